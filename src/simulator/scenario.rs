//! The simulated cloud's data: desktop groups, online-user history, application
//! sessions, and how the demo makes them move over time.

/// Counts of one desktop group, as `connections/status` reports them: the client's own
/// type, so the simulator serves exactly the fields the exporter reads.
pub use crate::cloud::huawei::workspace::DesktopGroupStatus as SimDesktopGroup;

/// One application-streaming session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSession {
    /// Server group ID (`app_server_group_id`); `None` leaves the field out.
    pub server_group_id: Option<String>,
    /// Server group name (`app_server_group_name`); `None` leaves the field out.
    pub server_group_name: Option<String>,
    /// Upstream state, e.g. `Active`.
    pub state: String,
}

/// Everything the simulated cloud knows.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Accepted credentials: access key, secret key, and the security token that must
    /// accompany them (temporary credentials) if any.
    pub credentials: Vec<SimCredential>,
    /// IAM projects as (id, name); discovery looks up by name (the region).
    pub projects: Vec<(String, String)>,
    /// The project whose Workspace data is served; other project IDs get 404.
    pub project_id: String,
    /// `connections/status` answer.
    pub desktop_groups: Vec<SimDesktopGroup>,
    /// `connections/online-users` answer (`time_counts`).
    pub time_counts: Vec<String>,
    /// Sessions served by list-sessions, in this order.
    pub sessions: Vec<SimSession>,
    /// Server groups listed by app-server-groups as (id, name); when empty, the groups
    /// the sessions name are listed.
    pub server_groups: Vec<(String, Option<String>)>,
    /// Credentials the SAG side accepts (access key = AccessKey ID).
    pub sag_credentials: Vec<SimCredential>,
    /// SAG APP instances.
    pub sag_instances: Vec<SimSagInstance>,
    /// Largest page DescribeSmartAccessGatewayClientUsers serves.
    pub sag_max_page_size: u64,
    /// Size in bytes of the connection-records export file.
    pub export_file_size: usize,
    /// What the identity services (metadata, IAM tokens, STS) accept and issue.
    pub identity: super::identity::SimIdentity,
}

/// One SAG APP instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSagInstance {
    /// Instance ID.
    pub smartag_id: String,
    /// Region the instance lives in.
    pub region: String,
    /// Client accounts, in listing order.
    pub users: Vec<SimSagUser>,
}

/// One SAG client account and its online clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSagUser {
    /// Account name.
    pub name: String,
    /// Online clients: (client IP, Unix seconds when it connected).
    pub clients: Vec<(String, u64)>,
}

/// One accepted credential set.
#[derive(Debug, Clone)]
pub struct SimCredential {
    /// Access key.
    pub access_key: String,
    /// Secret key.
    pub secret_key: String,
    /// Required `X-Security-Token`, for temporary credentials.
    pub security_token: Option<String>,
}

/// Access key of the demo's credentials.
pub const DEMO_ACCESS_KEY: &str = "DEMOAKEXAMPLE0000001";
/// Secret key of the demo's credentials (not a real key).
pub const DEMO_SECRET_KEY: &str = "demo-secret-key-not-a-real-one";
/// Region the demo simulates.
pub const DEMO_REGION: &str = "cn-north-4";
/// Project the demo simulates.
pub const DEMO_PROJECT_ID: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
/// AccessKey ID of the demo's SAG credentials.
pub const DEMO_SAG_ACCESS_KEY_ID: &str = "LTAIDEMOEXAMPLE00001";
/// AccessKey secret of the demo's SAG credentials (not a real key).
pub const DEMO_SAG_ACCESS_KEY_SECRET: &str = "demo-sag-secret-not-a-real-one";
/// Region of the demo's SAG instances.
pub const DEMO_SAG_REGION: &str = "cn-shanghai";
/// The demo's SAG APP instances.
pub const DEMO_SAG_INSTANCES: [&str; 2] = ["sag-demo0hq00001", "sag-demo0branch2"];
/// Default page-size cap of DescribeSmartAccessGatewayClientUsers.
pub const DEFAULT_SAG_MAX_PAGE_SIZE: u64 = 50;

impl Scenario {
    /// An empty cloud with the demo credentials and project.
    pub fn empty() -> Self {
        Scenario {
            credentials: vec![SimCredential {
                access_key: DEMO_ACCESS_KEY.into(),
                secret_key: DEMO_SECRET_KEY.into(),
                security_token: None,
            }],
            projects: vec![(DEMO_PROJECT_ID.into(), DEMO_REGION.into())],
            project_id: DEMO_PROJECT_ID.into(),
            desktop_groups: Vec::new(),
            time_counts: Vec::new(),
            sessions: Vec::new(),
            server_groups: Vec::new(),
            sag_credentials: vec![SimCredential {
                access_key: DEMO_SAG_ACCESS_KEY_ID.into(),
                secret_key: DEMO_SAG_ACCESS_KEY_SECRET.into(),
                security_token: None,
            }],
            sag_instances: Vec::new(),
            sag_max_page_size: DEFAULT_SAG_MAX_PAGE_SIZE,
            export_file_size: 3 * 1024 * 1024 + 777,
            identity: super::identity::SimIdentity::default(),
        }
    }

    /// The demo's starting point: a few desktop groups and server groups with
    /// plausible numbers.
    pub fn demo() -> Self {
        let mut s = Scenario::empty();
        for (name, size) in [
            ("Finance", 40u64),
            ("Engineering", 120),
            ("Call Center (Shift B)", 80),
            ("研发 Beijing", 30),
        ] {
            let in_use = size * 6 / 10;
            let disconnected = size / 20;
            let unregistered = 1;
            let ready = size - in_use - disconnected - unregistered;
            s.desktop_groups.push(SimDesktopGroup {
                static_name: name.into(),
                running_num: size - 3,
                stop_num: 2,
                hibernate_num: 1,
                other_num: 0,
                attached_num: size - 4,
                unattached_num: 3,
                cannot_attach_num: 0,
                in_process_num: 1,
                in_use_num: in_use,
                ready_num: ready,
                disconnected_num: disconnected,
                unregistered_num: unregistered,
                unknown_num: 0,
            });
        }
        let groups = [
            (Some("asg-7f3e"), Some("Office Apps")),
            (Some("asg-91c2"), Some("CAD Render Farm")),
            (Some("asg-0d55"), None),
        ];
        for i in 0..240 {
            let (id, name) = groups[i % groups.len()];
            let state = match i % 10 {
                0 => "Disconnected",
                1 => "SignedOut",
                2 if i % 30 == 2 => "AppcInit",
                3 if i % 50 == 3 => "InitFail",
                _ => "Active",
            };
            s.sessions.push(SimSession {
                server_group_id: id.map(str::to_string),
                server_group_name: name.map(str::to_string),
                state: state.into(),
            });
        }
        s.refresh_time_counts(chrono::Timelike::hour(&chrono::Utc::now()));
        let base_time = 1_795_000_000;
        let hq_users = (1..=12)
            .map(|i| SimSagUser {
                name: format!("employee{i:02}"),
                clients: if i % 3 == 0 {
                    Vec::new()
                } else {
                    vec![(format!("10.8.0.{}", 10 + i), base_time + i * 60)]
                },
            })
            .collect();
        s.sag_instances = vec![
            SimSagInstance {
                smartag_id: DEMO_SAG_INSTANCES[0].into(),
                region: DEMO_SAG_REGION.into(),
                users: hq_users,
            },
            SimSagInstance {
                smartag_id: DEMO_SAG_INSTANCES[1].into(),
                region: DEMO_SAG_REGION.into(),
                users: vec![
                    SimSagUser {
                        name: "ops-oncall".into(),
                        clients: vec![
                            ("10.9.0.2".into(), base_time),
                            ("10.9.0.3".into(), base_time + 3600),
                        ],
                    },
                    SimSagUser {
                        name: "auditor@corp.example".into(),
                        clients: Vec::new(),
                    },
                ],
            },
        ];
        s.identity = super::identity::SimIdentity::demo();
        s
    }

    /// The server groups app-server-groups lists.
    pub fn server_groups(&self) -> Vec<(String, Option<String>)> {
        if !self.server_groups.is_empty() {
            return self.server_groups.clone();
        }
        let mut groups: Vec<(String, Option<String>)> = Vec::new();
        for s in &self.sessions {
            if let Some(id) = &s.server_group_id
                && !groups.iter().any(|(g, _)| g == id)
            {
                groups.push((id.clone(), s.server_group_name.clone()));
            }
        }
        groups
    }

    /// A large tenant for benchmarks (sessions split evenly over the five states; see
    /// [`split_typically`] for a tenant of ordinary shape): `desktop_groups` desktop groups, `server_groups`
    /// application server groups holding `sessions` sessions in the documented states,
    /// and `sag_users` SAG client accounts (one in five online) on one instance.
    pub fn large(
        desktop_groups: usize,
        server_groups: usize,
        sessions: usize,
        sag_users: usize,
    ) -> Self {
        let mut s = Scenario::empty();
        s.desktop_groups = (0..desktop_groups)
            .map(|i| {
                let n = 20 + (i as u64 % 50);
                SimDesktopGroup {
                    static_name: format!("desktop-group-{i:04}"),
                    running_num: n,
                    attached_num: n,
                    in_use_num: n / 2,
                    ready_num: n - n / 2 - 1,
                    disconnected_num: 1,
                    ..Default::default()
                }
            })
            .collect();
        s.server_groups = (0..server_groups.max(1))
            .map(|g| (format!("asg-{g:04}"), Some(format!("Server group {g}"))))
            .collect();
        s.set_sessions(split_evenly(sessions));
        s.sag_instances = vec![SimSagInstance {
            smartag_id: DEMO_SAG_INSTANCES[0].into(),
            region: DEMO_SAG_REGION.into(),
            users: (0..sag_users)
                .map(|i| SimSagUser {
                    name: format!("user{i:05}"),
                    clients: if i % 5 == 0 {
                        vec![(
                            format!("10.{}.{}.{}", i / 65536 % 256, i / 256 % 256, i % 256),
                            1_795_000_000,
                        )]
                    } else {
                        Vec::new()
                    },
                })
                .collect(),
        }];
        s.time_counts = vec!["00:00 : 10".into(), "01:00 : 20".into()];
        s
    }

    /// Replaces the sessions: `per_state[i]` sessions in [`SESSION_STATES`]`[i]`, spread
    /// over the server groups in turn (one group when none are listed).
    pub fn set_sessions(&mut self, per_state: [usize; 5]) {
        if self.server_groups.is_empty() {
            self.server_groups = vec![("asg-0000".into(), Some("Server group 0".into()))];
        }
        let groups = self.server_groups.len();
        self.sessions = per_state
            .iter()
            .zip(SESSION_STATES)
            .flat_map(|(n, state)| std::iter::repeat_n(state, *n))
            .enumerate()
            .map(|(i, state)| {
                let (id, name) = &self.server_groups[i % groups];
                SimSession {
                    server_group_id: Some(id.clone()),
                    server_group_name: name.clone(),
                    state: state.to_string(),
                }
            })
            .collect();
    }

    /// The fewest `list-sessions` and group-listing calls any `app_sessions` plan needs
    /// for this tenant, priced here, apart from the collector, as the plans are
    /// specified: for each set P of paged states, ⌈N_P/100⌉ (none when P is empty; the
    /// unfiltered total when P holds every state) plus, unless P holds every state,
    /// ⌈G/100⌉ + |C|·G for the counted states C and one total. Tests and the quota
    /// benchmark compare the exporter's choice with it.
    pub fn optimal_app_session_calls(&self) -> u64 {
        let groups = self.server_groups().len() as u64;
        let per_state: Vec<u64> = SESSION_STATES
            .iter()
            .map(|st| self.sessions.iter().filter(|x| x.state == *st).count() as u64)
            .collect();
        let pages = |n: u64| n.div_ceil(100).max(1);
        (0u32..32)
            .map(|p| {
                if p == 31 {
                    return pages(self.sessions.len() as u64);
                }
                let paged: u64 = (0..5)
                    .filter(|i| p & (1 << i) != 0)
                    .map(|i| per_state[i])
                    .sum();
                let counted = 5 - u64::from(p.count_ones());
                let paging = if p == 0 { 0 } else { pages(paged) };
                paging + groups.div_ceil(100).max(1) + counted * groups + 1
            })
            .min()
            .unwrap_or(1)
    }

    /// Total desktops in use now.
    pub fn users_in_use(&self) -> u64 {
        self.desktop_groups.iter().map(|g| g.in_use_num).sum()
    }

    /// Rebuilds today's hourly online-user history up to `hour`, ending with the users
    /// in use now, spaced the way the real API spaces it.
    pub fn refresh_time_counts(&mut self, hour: u32) {
        let now = self.users_in_use();
        self.time_counts = (0..=hour.min(23))
            .map(|h| {
                let count = if h == hour.min(23) {
                    now
                } else {
                    now * (40 + 60 * u64::from(h) / 24) / 100
                };
                format!("{h:02}:00 : {count}")
            })
            .collect();
    }

    /// One step of the demo's weather: users connect and disconnect, sessions start and
    /// end, and now and then a disconnect spike hits one desktop group.
    pub fn step(&mut self, rng: &mut fastrand::Rng, hour: u32) {
        let spike_group =
            (rng.u32(0..20) == 0).then(|| rng.usize(0..self.desktop_groups.len().max(1)));
        for (i, g) in self.desktop_groups.iter_mut().enumerate() {
            if spike_group == Some(i) {
                let moved = g.in_use_num * rng.u64(30..60) / 100;
                g.in_use_num -= moved;
                g.disconnected_num += moved;
                continue;
            }
            // Disconnected users mostly come back; some log off.
            let back = g
                .disconnected_num
                .min(rng.u64(0..=3) + g.disconnected_num / 3);
            g.disconnected_num -= back;
            g.in_use_num += back * 3 / 4;
            g.ready_num += back - back * 3 / 4;
            // Some idle desktops get a user, some users disconnect or log off.
            let connect = g.ready_num.min(rng.u64(0..=3));
            g.ready_num -= connect;
            g.in_use_num += connect;
            let drop = g.in_use_num.min(rng.u64(0..=2));
            g.in_use_num -= drop;
            g.disconnected_num += drop / 2;
            g.ready_num += drop - drop / 2;
        }
        for session in &mut self.sessions {
            if rng.u32(0..8) != 0 {
                continue;
            }
            session.state = match (session.state.as_str(), rng.u32(0..10)) {
                ("Active", 0..=2) => "Disconnected",
                ("Active", 3) => "SignedOut",
                ("Disconnected", 0..=6) => "Active",
                ("Disconnected", _) => "SignedOut",
                ("SignedOut", 0..=3) => "AppcInit",
                ("AppcInit", 0) => "InitFail",
                ("AppcInit", _) => "Active",
                ("InitFail", _) => "AppcInit",
                (other, _) => other,
            }
            .to_string();
        }
        self.refresh_time_counts(hour);
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        for instance in &mut self.sag_instances {
            for (i, user) in instance.users.iter_mut().enumerate() {
                if rng.u32(0..6) != 0 {
                    continue;
                }
                if user.clients.is_empty() {
                    user.clients
                        .push((format!("10.8.{}.{}", i % 250, rng.u8(2..250)), now));
                } else {
                    user.clients.pop();
                }
            }
        }
    }
}

/// The documented application-session states.
pub const SESSION_STATES: [&str; 5] = [
    "Active",
    "Disconnected",
    "AppcInit",
    "SignedOut",
    "InitFail",
];

/// `sessions` split evenly over [`SESSION_STATES`].
pub fn split_evenly(sessions: usize) -> [usize; 5] {
    std::array::from_fn(|i| sessions / 5 + usize::from(i < sessions % 5))
}

/// `sessions` split as in an ordinary day of a tenant: most sessions of the last 24 h
/// have signed out (90 %), a few are live (Active 6.7 %, Disconnected 1.3 %, AppcInit
/// 0.3 %) and some failed to start (1.7 %). 60,000 sessions give 4,000 Active, 800
/// Disconnected, 200 AppcInit, 54,000 SignedOut and 1,000 InitFail.
pub fn split_typically(sessions: usize) -> [usize; 5] {
    const PER_300: [usize; 5] = [20, 4, 1, 270, 5];
    let mut split = PER_300.map(|w| sessions * w / 300);
    split[3] += sessions - split.iter().sum::<usize>();
    split
}
