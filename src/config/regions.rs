//! The regions each cloud serves this exporter's APIs in, and the nearest known name
//! to a misspelled one. Used by [`super::checks`] when a target relies on the
//! endpoints its region implies: a region outside these tables would only fail later,
//! with DNS errors, so it is refused at load with a suggestion.
//!
//! The tables follow the official SDKs' region tables; extend them from there when a
//! cloud opens a region (a region missing here still works with explicit endpoints):
//! - Huawei Cloud Workspace: `WorkspaceRegion` of the Python SDK package
//!   `huaweicloudsdkworkspace` 3.1.219 (`huaweicloudsdkworkspace/v2/region/
//!   workspace_region.py`). The WorkspaceApp table (`huaweicloudsdkworkspaceapp`
//!   3.1.219) holds a subset of it, so one table serves all three endpoints.
//! - Alibaba Cloud Smart Access Gateway: the endpoint map of the Python SDK package
//!   `alibabacloud_smartag20180313` 2.1.2 (`client.py`, `_endpoint_map`).

/// The regions of one cloud's service, and how its default endpoints are named.
#[derive(Debug)]
pub(super) struct RegionTable {
    /// The cloud and service, for messages (`Huawei Cloud Workspace`).
    pub service: &'static str,
    /// The domain of its default endpoints (`myhuaweicloud.com`): a default endpoint
    /// is `https://{service}.{region}.{domain}`.
    pub domain: &'static str,
    /// Region names, sorted.
    pub regions: &'static [&'static str],
    /// A target's endpoint keys: set, they replace the default endpoints.
    pub endpoint_keys: &'static str,
}

/// Huawei Cloud Workspace (and WorkspaceApp), from `huaweicloudsdkworkspace`.
pub(super) const HUAWEI_WORKSPACE: RegionTable = RegionTable {
    service: "Huawei Cloud Workspace",
    domain: "myhuaweicloud.com",
    regions: &[
        "af-north-1",
        "af-south-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "cn-east-3",
        "cn-east-5",
        "cn-north-11",
        "cn-north-4",
        "cn-north-9",
        "cn-south-1",
        "cn-southwest-2",
        "eu-west-101",
        "la-north-2",
        "la-south-2",
        "me-east-1",
        "sa-brazil-1",
        "tr-west-1",
    ],
    endpoint_keys: "workspace_endpoint, app_endpoint and iam_endpoint",
};

/// Alibaba Cloud Smart Access Gateway, from `alibabacloud_smartag20180313`.
pub(super) const ALIBABA_SAG: RegionTable = RegionTable {
    service: "Alibaba Cloud Smart Access Gateway",
    domain: "aliyuncs.com",
    regions: &[
        "ap-northeast-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-5",
        "cn-hangzhou",
        "cn-hongkong",
        "cn-shanghai",
        "cn-shanghai-finance-1",
        "eu-central-1",
    ],
    endpoint_keys: "endpoint",
};

/// Every table.
const TABLES: [&RegionTable; 2] = [&HUAWEI_WORKSPACE, &ALIBABA_SAG];

/// The table and region of a default endpoint's host (`workspace.cn-north-4.
/// myhuaweicloud.com` → Workspace, `cn-north-4`); `None` for a host of no known cloud.
pub(super) fn of_default_host(host: &str) -> Option<(&'static RegionTable, &str)> {
    let (_service, rest) = host.split_once('.')?;
    let (region, domain) = rest.split_once('.')?;
    TABLES
        .into_iter()
        .find(|t| t.domain == domain)
        .map(|t| (t, region))
}

impl RegionTable {
    /// Whether `region` is one of the table's.
    pub fn knows(&self, region: &str) -> bool {
        self.regions.contains(&region)
    }

    /// The known region nearest to `region` by edit distance, when it is near enough
    /// to be a misspelling of it (at most 3 edits, and fewer than half its letters).
    pub fn nearest(&self, region: &str) -> Option<&'static str> {
        self.regions
            .iter()
            .map(|known| (edit_distance(region, known), *known))
            .filter(|(d, _)| *d <= 3 && *d * 2 < region.len().max(1))
            .min_by_key(|(d, _)| *d)
            .map(|(_, known)| known)
    }
}

/// The number of single-character insertions, deletions, substitutions and swaps of
/// neighbours that turn `a` into `b` (optimal string alignment distance).
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j]: distance between a[..i] and b[..j]; three rows are enough.
    let mut before: Vec<usize> = Vec::new();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut current = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            current[j] = d;
        }
        before = std::mem::replace(&mut previous, current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_each_kind_of_edit() {
        assert_eq!(edit_distance("cn-north-4", "cn-north-4"), 0);
        assert_eq!(edit_distance("cn-nort-4", "cn-north-4"), 1);
        assert_eq!(edit_distance("cn-notrh-4", "cn-north-4"), 1);
        assert_eq!(edit_distance("cn-north-5", "cn-north-4"), 1);
        assert_eq!(edit_distance("cn-north-44", "cn-north-4"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn the_nearest_region_is_suggested_only_when_near() {
        assert_eq!(HUAWEI_WORKSPACE.nearest("cn-nort-4"), Some("cn-north-4"));
        assert_eq!(HUAWEI_WORKSPACE.nearest("cn-north4"), Some("cn-north-4"));
        assert_eq!(
            HUAWEI_WORKSPACE.nearest("ap-southeast1"),
            Some("ap-southeast-1")
        );
        assert_eq!(ALIBABA_SAG.nearest("cn-shangai"), Some("cn-shanghai"));
        assert_eq!(ALIBABA_SAG.nearest("cn-hongkogn"), Some("cn-hongkong"));
        assert_eq!(HUAWEI_WORKSPACE.nearest("westeurope"), None);
        assert_eq!(ALIBABA_SAG.nearest("x"), None);
    }

    #[test]
    fn tables_are_sorted_unique_region_names() {
        for table in TABLES {
            let mut sorted = table.regions.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted, table.regions, "{}", table.service);
            assert!(table.regions.iter().all(|r| {
                r.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            }));
        }
    }

    #[test]
    fn default_hosts_map_to_their_table() {
        let (t, r) = of_default_host("workspace.cn-north-4.myhuaweicloud.com").unwrap();
        assert_eq!((t.service, r), (HUAWEI_WORKSPACE.service, "cn-north-4"));
        let (t, r) = of_default_host("smartag.cn-shanghai.aliyuncs.com").unwrap();
        assert_eq!((t.service, r), (ALIBABA_SAG.service, "cn-shanghai"));
        assert!(of_default_host("127.0.0.1").is_none());
        assert!(of_default_host("workspace.cn-north-4.example.com").is_none());
    }
}
