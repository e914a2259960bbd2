//! IAM project discovery: the project ID of a region, for targets that do not configure
//! one (`GET /v3/projects?name={region}`, as the SDK does).

use serde::Deserialize;
use url::Url;

use super::client::{ApiError, ApiRequest, HuaweiClient};

/// `api` label of the project lookup.
pub const API_IAM_PROJECTS: &str = "iam_projects";

/// Answer of `GET /v3/projects`.
#[derive(Debug, Clone, Deserialize)]
pub struct Projects {
    /// Matching projects.
    pub projects: Vec<Project>,
}

/// One IAM project.
#[derive(Debug, Clone, Deserialize)]
pub struct Project {
    /// Project ID.
    pub id: String,
    /// Project name (the region name for a region's default project).
    #[serde(default)]
    pub name: Option<String>,
}

/// Why project discovery failed.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The IAM call failed.
    #[error("project discovery: {0}")]
    Api(#[from] ApiError),
    /// IAM did not return exactly one project.
    #[error(
        "project discovery: IAM returned {found} projects named {region:?}; set project_id in the target"
    )]
    NotUnique {
        /// The region looked up.
        region: String,
        /// How many projects came back.
        found: usize,
    },
}

/// Looks up the ID of the project named after `region`.
pub async fn discover_project_id(
    client: &HuaweiClient,
    iam_endpoint: &Url,
    region: &str,
) -> Result<String, DiscoveryError> {
    let answer: Projects = client
        .get_json(&ApiRequest {
            api: API_IAM_PROJECTS,
            endpoint: iam_endpoint,
            path: "/v3/projects".into(),
            query: vec![("name".into(), region.into())],
            project_id: None,
        })
        .await?;
    match answer.projects.as_slice() {
        [only] if !only.id.is_empty() => Ok(only.id.clone()),
        other => Err(DiscoveryError::NotUnique {
            region: region.to_string(),
            found: other.len(),
        }),
    }
}
