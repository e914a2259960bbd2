//! Sharding targets across replicas, as kube-state-metrics does: with `M` replicas,
//! replica `N` polls only the targets whose shard is `N`, so adding replicas adds
//! capacity without spending any tenant's API quota twice. Sits before the data flow:
//! the exporter consults it when it turns the configuration into polling loops.
//!
//! A target's shard is the 64-bit FNV-1a hash of its name's UTF-8 bytes, modulo the
//! number of shards: stable across restarts, versions and machines, and depending on
//! nothing but the name.

/// One replica's place among the shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This replica's shard, `0..total`.
    pub index: u32,
    /// How many shards (replicas) there are, at least 1.
    pub total: u32,
}

/// Why a shard setting is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// `total` is 0.
    #[error("the number of shards must be at least 1")]
    NoShards,
    /// `index` is not below `total`.
    #[error("shard {index} does not exist: with {total} shards, the shard is 0..{}", total - 1)]
    OutOfRange {
        /// The shard asked for.
        index: u32,
        /// The number of shards.
        total: u32,
    },
    /// The host name does not end in `-<ordinal>`.
    #[error(
        "the host name {0:?} does not end in -<number> as a StatefulSet pod's does (workspace-exporter-3); set --shard instead"
    )]
    NoOrdinal(String),
}

impl Shard {
    /// Shard `index` of `total`.
    pub fn new(index: u32, total: u32) -> Result<Shard, ShardError> {
        if total == 0 {
            return Err(ShardError::NoShards);
        }
        if index >= total {
            return Err(ShardError::OutOfRange { index, total });
        }
        Ok(Shard { index, total })
    }

    /// Whether this replica polls the target named `target`.
    pub fn owns(&self, target: &str) -> bool {
        shard_of(target, self.total) == self.index
    }
}

/// The shard of the target named `target` among `total` shards (`total` ≥ 1).
pub fn shard_of(target: &str, total: u32) -> u32 {
    (fnv1a64(target.as_bytes()) % u64::from(total.max(1))) as u32
}

/// The 64-bit FNV-1a hash.
fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME))
}

/// The trailing ordinal of a StatefulSet pod's host name: `workspace-exporter-3` → 3.
pub fn ordinal_of(hostname: &str) -> Result<u32, ShardError> {
    let name = hostname.trim();
    name.rsplit_once('-')
        .and_then(|(_, n)| (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then_some(n))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| ShardError::NoOrdinal(name.to_string()))
}

/// This machine's host name (`/proc/sys/kernel/hostname`, else `$HOSTNAME`).
pub fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_fnv1a_and_stable() {
        // FNV-1a 64 reference values.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
        // Pinned assignments (computed with an independent implementation): changing
        // them would move targets between replicas on upgrade.
        let pinned: Vec<u32> = ["prod", "cn-north-4", "sag-shanghai", "tenant-017"]
            .iter()
            .map(|t| shard_of(t, 3))
            .collect();
        assert_eq!(pinned, [0, 2, 0, 1]);
    }

    #[test]
    fn every_target_belongs_to_exactly_one_shard() {
        for total in 1..=7 {
            let shards: Vec<Shard> = (0..total).map(|i| Shard::new(i, total).unwrap()).collect();
            let mut per_shard = vec![0; total as usize];
            for t in 0..1000 {
                let name = format!("tenant-{t:04}");
                let owners: Vec<&Shard> = shards.iter().filter(|s| s.owns(&name)).collect();
                assert_eq!(owners.len(), 1, "{name} among {total}");
                per_shard[owners[0].index as usize] += 1;
            }
            // Spread roughly evenly.
            for n in per_shard {
                assert!(n > 1000 / total as usize / 2, "{total} shards: {n}");
            }
        }
    }

    #[test]
    fn bad_settings_and_host_names_are_explained() {
        assert_eq!(Shard::new(0, 0), Err(ShardError::NoShards));
        assert_eq!(
            Shard::new(3, 3).unwrap_err().to_string(),
            "shard 3 does not exist: with 3 shards, the shard is 0..2"
        );
        assert_eq!(ordinal_of("workspace-exporter-3"), Ok(3));
        assert_eq!(ordinal_of("workspace-exporter-12\n"), Ok(12));
        assert!(matches!(
            ordinal_of("workspace-exporter"),
            Err(ShardError::NoOrdinal(_))
        ));
        assert!(matches!(
            ordinal_of("exporter-"),
            Err(ShardError::NoOrdinal(_))
        ));
        assert!(matches!(
            ordinal_of("web-3a"),
            Err(ShardError::NoOrdinal(_))
        ));
    }
}
