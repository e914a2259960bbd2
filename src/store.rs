//! The snapshot store: the "snapshot" step between polling and serving.
//!
//! Each target × collector has one slot holding the series of its last successful poll.
//! A poll result replaces its slot whole (a scrape never sees half a poll; series that
//! vanished upstream vanish here). A failed poll leaves the slot as it was, until
//! `max_staleness` has passed since the last success; then the series are dropped. A slot
//! keeps its series rendered as sample lines and compressed once
//! ([`crate::encoding::render`]), not as protobuf families: recording a poll costs work
//! in proportion to that poll's series, whatever the number of other slots.
//!
//! The `/metrics` bodies are assembled from those pieces and the self-metrics (rendered
//! then) at most once per scrape, and only when something changed since the last
//! assembly: listing the pieces compresses nothing, so it costs one reference per
//! piece. A scrape never waits for a poll; it may wait for another scrape's
//! assembly, which it then shares.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use prometheus::proto::MetricFamily;

use crate::encoding::{Bodies, RenderedFamily, render};
use tokio::sync::watch;

use crate::self_metrics::SelfMetrics;

/// Identifies one polling loop: a target and one of its collectors.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlotKey {
    /// Target name.
    pub target: String,
    /// Collector name.
    pub collector: &'static str,
}

/// How a poll ended, as the store needs to know it.
#[derive(Debug)]
pub enum PollOutcome {
    /// Everything was read: these series replace the slot's.
    Success(Vec<MetricFamily>),
    /// Some parts failed: these series (of the parts that worked) replace the slot's,
    /// and the collector counts as down for this poll.
    Partial(Vec<MetricFamily>),
    /// Nothing usable: the slot keeps its last good series.
    Failed,
}

/// The state of one target × collector.
#[derive(Debug, Default)]
struct Slot {
    /// Series of the last successful poll, rendered once when recorded; shared with
    /// the body assembly, which reads them after releasing the lock.
    families: Arc<Vec<RenderedFamily>>,
    /// Whether any poll (successful or not) has finished; drives readiness.
    polled: bool,
    /// Highest poll-request epoch covered by a finished poll (see [`Store::wait_for_epoch`]).
    completed_epoch: u64,
    /// When the last successful poll finished.
    last_success: Option<SystemTime>,
    /// How long the series outlive failed polls after the last success.
    max_staleness: Duration,
}

/// Snapshots of every slot plus the last assembled `/metrics` bodies.
pub struct Store {
    /// One slot per target × collector.
    slots: Mutex<BTreeMap<SlotKey, Slot>>,
    /// Bumped (with the slots locked) after every change a body shows: a slot's series
    /// or a self-metric.
    version: AtomicU64,
    /// The bodies of the last assembly, and the version they show.
    assembled: RwLock<Assembled>,
    /// Held while assembling, so that scrapes arriving together assemble once.
    assembling: Mutex<()>,
    /// The exporter's own metrics, merged into every body.
    self_metrics: Arc<SelfMetrics>,
    /// Bumped after every recorded poll, so waiters can re-check conditions.
    changes: watch::Sender<u64>,
}

/// How old the exporter's own metrics in a body may be: a scrape after that assembles
/// anew even when no slot changed, so `process_*`, `api_requests_total` and the
/// rest stay current between polls (an hourly target's process metrics would otherwise
/// freeze for an hour). At most one assembly a second, whatever the scrape rate.
pub const SELF_METRICS_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(1);

/// One assembly of the bodies.
struct Assembled {
    /// The [`Store::version`] they show: every change up to it.
    version: u64,
    /// When they were assembled (the self-metrics' age).
    at: tokio::time::Instant,
    /// The bodies (every format and compression); let go at the first change after
    /// the assembly, so they do not keep replaced series in memory until the next
    /// scrape (only a scrape still sending them does).
    bodies: Option<Arc<Bodies>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// An empty store; its body holds only the self-metrics.
    pub fn new(self_metrics: Arc<SelfMetrics>) -> Self {
        Store {
            slots: Mutex::new(BTreeMap::new()),
            // Ahead of the empty assembly below, so the first scrape assembles.
            version: AtomicU64::new(1),
            assembled: RwLock::new(Assembled {
                version: 0,
                at: tokio::time::Instant::now(),
                bodies: None,
            }),
            assembling: Mutex::new(()),
            self_metrics,
            changes: watch::channel(0).0,
        }
    }

    /// The self-metrics this store reports.
    pub fn self_metrics(&self) -> &Arc<SelfMetrics> {
        &self.self_metrics
    }

    /// Declares a slot before its first poll (it is "not ready" until that poll ends);
    /// its series disappear `max_staleness` after its last successful poll.
    pub fn register(&self, key: SlotKey, max_staleness: Duration) {
        self.self_metrics
            .register_collector(&key.target, key.collector);
        let mut slots = self.slots.lock().expect("store lock");
        slots.entry(key).or_default().max_staleness = max_staleness;
        let stale = self.changed(&slots);
        drop(slots);
        drop(stale);
    }

    /// Records a finished poll. The slot's series are replaced by those of a
    /// successful or partial poll and kept after a failed one. The cost is rendering
    /// and compressing this poll's series; the bodies are assembled at the next scrape.
    pub fn record(
        &self,
        key: &SlotKey,
        outcome: PollOutcome,
        epoch: u64,
        duration: Duration,
        finished_at: SystemTime,
    ) {
        // Rendered and compressed before taking the lock; the protobuf families are
        // dropped here.
        let (success, series) = match outcome {
            PollOutcome::Success(s) => (true, Some(render(&s))),
            PollOutcome::Partial(s) => (false, Some(render(&s))),
            PollOutcome::Failed => (false, None),
        };
        let now = finished_at
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        self.self_metrics.record_poll(
            &key.target,
            key.collector,
            success,
            duration.as_secs_f64(),
            now,
        );
        let stale = {
            let mut slots = self.slots.lock().expect("store lock");
            let slot = slots.entry(key.clone()).or_default();
            if success {
                slot.last_success = Some(finished_at);
            }
            match series {
                Some(series) => slot.families = Arc::new(series),
                None => {
                    let stale = slot.last_success.is_some_and(|t| {
                        finished_at.duration_since(t).unwrap_or_default() >= slot.max_staleness
                    });
                    if stale && !slot.families.is_empty() {
                        tracing::warn!(
                            target_name = %key.target,
                            collector = key.collector,
                            max_staleness_seconds = slot.max_staleness.as_secs_f64(),
                            "no successful poll within max_staleness; dropping the collector's series"
                        );
                        slot.families = Arc::default();
                    }
                }
            }
            slot.polled = true;
            slot.completed_epoch = slot.completed_epoch.max(epoch);
            self.changed(&slots)
        };
        // The replaced assembly (and with it any series only it still held) is freed
        // outside the lock.
        drop(stale);
        self.changes.send_modify(|n| *n += 1);
    }

    /// Drops the slots (and their self-metrics) whose key is not in `keep`; a target
    /// with no slot left also loses its API counters.
    pub fn retain(&self, keep: &std::collections::BTreeSet<SlotKey>) {
        let mut slots = self.slots.lock().expect("store lock");
        let mut dropped_targets = std::collections::BTreeSet::new();
        slots.retain(|key, _| {
            let kept = keep.contains(key);
            if !kept {
                self.self_metrics
                    .forget_collector(&key.target, key.collector);
                dropped_targets.insert(key.target.clone());
            }
            kept
        });
        for target in dropped_targets {
            if !keep.iter().any(|k| k.target == target) {
                self.self_metrics.forget_target(&target);
            }
        }
        let stale = self.changed(&slots);
        drop(slots);
        drop(stale);
    }

    /// Marks the bodies out of date after a self-metric changed outside a poll.
    pub fn refresh(&self) {
        let slots = self.slots.lock().expect("store lock");
        let stale = self.changed(&slots);
        drop(slots);
        drop(stale);
    }

    /// The current `/metrics` body (text format 0.0.4).
    pub fn body(&self) -> Bytes {
        self.bodies().text.to_bytes()
    }

    /// Every variant of the current body: the last assembly if nothing changed since,
    /// else a new one (shared with the scrapes that arrive meanwhile).
    pub fn bodies(&self) -> Arc<Bodies> {
        let wanted = self.version.load(Ordering::SeqCst);
        if let Some(bodies) = self.assembled_since(wanted) {
            return bodies;
        }
        let _one_at_a_time = self.assembling.lock().expect("assembly lock");
        // Another scrape may have assembled while this one waited: an assembly that
        // started after this scrape arrived shows everything this scrape must show.
        if let Some(bodies) = self.assembled_since(wanted) {
            return bodies;
        }
        let (version, slot_families) = {
            let slots = self.slots.lock().expect("store lock");
            let families: Vec<Arc<Vec<RenderedFamily>>> =
                slots.values().map(|slot| slot.families.clone()).collect();
            (self.version.load(Ordering::SeqCst), families)
        };
        // Gathered after reading the version: shows at least the self-metrics of every
        // change up to it.
        let own = render(&self.self_metrics.gather());
        let bodies = Arc::new(assemble(&slot_families, &own));
        let replaced = std::mem::replace(
            &mut *self.assembled.write().expect("body lock"),
            Assembled {
                version,
                at: tokio::time::Instant::now(),
                bodies: Some(bodies.clone()),
            },
        );
        drop(replaced);
        bodies
    }

    /// The last assembly, if it shows every change up to `version` and its
    /// self-metrics are at most [`SELF_METRICS_MAX_AGE`] old.
    fn assembled_since(&self, version: u64) -> Option<Arc<Bodies>> {
        let assembled = self.assembled.read().expect("body lock");
        if assembled.version >= version && assembled.at.elapsed() < SELF_METRICS_MAX_AGE {
            assembled.bodies.clone()
        } else {
            None
        }
    }

    /// Records that the body changed; called with the slots locked (the guard proves
    /// it), so a version read under the lock describes the slots exactly. Returns the
    /// assembly this change made stale, for the caller to drop after unlocking.
    #[must_use = "drop the stale assembly after releasing the slots lock"]
    fn changed(&self, _slots: &BTreeMap<SlotKey, Slot>) -> Option<Arc<Bodies>> {
        let version = self.version.fetch_add(1, Ordering::SeqCst) + 1;
        let mut assembled = self.assembled.write().expect("body lock");
        if assembled.version < version {
            assembled.bodies.take()
        } else {
            None
        }
    }

    /// Slots whose first poll has not finished yet.
    pub fn pending(&self) -> Vec<SlotKey> {
        let slots = self.slots.lock().expect("store lock");
        slots
            .iter()
            .filter(|(_, s)| !s.polled)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Waits until every slot has finished its first poll.
    pub async fn wait_ready(&self) {
        let mut rx = self.changes.subscribe();
        loop {
            if self.pending().is_empty() {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Waits until every slot has finished a poll that started after poll request
    /// `epoch` was issued.
    pub async fn wait_for_epoch(&self, epoch: u64) {
        let mut rx = self.changes.subscribe();
        loop {
            let done = self
                .slots
                .lock()
                .expect("store lock")
                .values()
                .all(|s| s.completed_epoch >= epoch);
            if done || rx.changed().await.is_err() {
                return;
            }
        }
    }
}

/// The bodies of these slots' families (in slot order) and the self-metrics: families
/// of the same name from different slots become one family, so each name has one HELP
/// and one TYPE line; sorting by name (stable, so slot order is kept within a name)
/// puts them next to each other. Costs one reference per piece and a sort.
fn assemble(slots: &[Arc<Vec<RenderedFamily>>], own: &[RenderedFamily]) -> Bodies {
    let mut families: Vec<&RenderedFamily> =
        slots.iter().flat_map(|families| families.iter()).collect();
    families.sort_by(|a, b| a.name.cmp(&b.name));
    families.extend(own.iter());
    Bodies::encode(&families)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::SeriesBuilder;

    fn series(value: f64) -> Vec<MetricFamily> {
        let b = SeriesBuilder::new(&[("region", "r")]);
        b.gauge_vec("test_gauge", "A test gauge.", &[])
            .with_label_values(&[] as &[&str])
            .set(value);
        b.finish()
    }

    fn body(store: &Store) -> String {
        String::from_utf8(store.body().to_vec()).unwrap()
    }

    #[test]
    fn failed_polls_keep_series_until_max_staleness_then_drop_them() {
        let store = Store::new(Arc::new(SelfMetrics::new()));
        let key = SlotKey {
            target: "t".into(),
            collector: "c",
        };
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        store.register(key.clone(), Duration::from_secs(180));
        assert_eq!(store.pending(), vec![key.clone()]);
        store.record(
            &key,
            PollOutcome::Success(series(5.0)),
            0,
            Duration::ZERO,
            t0,
        );
        assert!(store.pending().is_empty());
        assert!(body(&store).contains("test_gauge{region=\"r\"} 5"));

        store.record(
            &key,
            PollOutcome::Failed,
            0,
            Duration::ZERO,
            t0 + Duration::from_secs(179),
        );
        let b = body(&store);
        assert!(b.contains("test_gauge{region=\"r\"} 5"), "{b}");
        assert!(b.contains("workspace_exporter_collector_up{collector=\"c\",target=\"t\"} 0"));
        assert!(b.contains("workspace_exporter_collector_last_success_timestamp_seconds{collector=\"c\",target=\"t\"} 1800000000"));

        store.record(
            &key,
            PollOutcome::Failed,
            0,
            Duration::ZERO,
            t0 + Duration::from_secs(180),
        );
        let b = body(&store);
        assert!(!b.contains("test_gauge"), "{b}");
        assert!(b.contains("workspace_exporter_collector_last_success_timestamp_seconds{collector=\"c\",target=\"t\"} 1800000000"));

        store.record(
            &key,
            PollOutcome::Success(series(6.0)),
            0,
            Duration::ZERO,
            t0 + Duration::from_secs(240),
        );
        assert!(body(&store).contains("test_gauge{region=\"r\"} 6"));
    }

    #[test]
    fn a_partial_poll_replaces_series_but_is_not_a_success() {
        let store = Store::new(Arc::new(SelfMetrics::new()));
        let key = SlotKey {
            target: "t".into(),
            collector: "c",
        };
        store.register(key.clone(), Duration::from_secs(180));
        store.record(
            &key,
            PollOutcome::Partial(series(2.0)),
            0,
            Duration::ZERO,
            UNIX_EPOCH,
        );
        let b = body(&store);
        assert!(b.contains("test_gauge{region=\"r\"} 2"));
        assert!(b.contains("workspace_exporter_collector_up{collector=\"c\",target=\"t\"} 0"));
        assert!(!b.contains("last_success_timestamp_seconds{"));
    }

    #[tokio::test(start_paused = true)]
    async fn recording_marks_the_bodies_out_of_date_without_assembling_them() {
        let store = Store::new(Arc::new(SelfMetrics::new()));
        let key = SlotKey {
            target: "t".into(),
            collector: "c",
        };
        store.register(key.clone(), Duration::from_secs(180));
        let first = store.bodies();
        assert!(Arc::ptr_eq(&first, &store.bodies()), "nothing changed");
        let assembled = store.assembled.read().unwrap().version;
        for value in [1.0, 2.0, 3.0] {
            store.record(
                &key,
                PollOutcome::Success(series(value)),
                0,
                Duration::ZERO,
                UNIX_EPOCH,
            );
        }
        assert_eq!(
            store.assembled.read().unwrap().version,
            assembled,
            "a poll assembled the bodies"
        );
        let b = body(&store);
        assert!(b.contains("test_gauge{region=\"r\"} 3"), "{b}");
        assert!(!Arc::ptr_eq(&first, &store.bodies()));
    }

    #[tokio::test(start_paused = true)]
    async fn self_metrics_in_the_body_are_at_most_a_second_old() {
        let metrics = Arc::new(SelfMetrics::new());
        let store = Store::new(metrics.clone());
        let first = store.bodies();
        metrics.api_request("t", "list_sessions", "200");
        assert!(
            Arc::ptr_eq(&first, &store.bodies()),
            "within a second, scrapes share the assembly"
        );
        tokio::time::advance(SELF_METRICS_MAX_AGE).await;
        let b = body(&store);
        assert!(
            b.contains("workspace_exporter_api_requests_total{api=\"list_sessions\",code=\"200\",target=\"t\"} 1"),
            "{b}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_lets_go_of_the_assembly_it_made_stale() {
        let store = Store::new(Arc::new(SelfMetrics::new()));
        let key = SlotKey {
            target: "t".into(),
            collector: "c",
        };
        store.register(key.clone(), Duration::from_secs(180));
        store.record(
            &key,
            PollOutcome::Success(series(1.0)),
            0,
            Duration::ZERO,
            UNIX_EPOCH,
        );
        let old_samples = {
            let bodies = store.bodies();
            bodies.text.pieces()[1].clone()
        };
        assert_eq!(&old_samples[..], b"test_gauge{region=\"r\"} 1\n");
        store.record(
            &key,
            PollOutcome::Success(series(2.0)),
            0,
            Duration::ZERO,
            UNIX_EPOCH,
        );
        // Only this test's copy still refers to the replaced series' bytes.
        assert!(
            old_samples.is_unique(),
            "the stale assembly kept replaced series"
        );
    }

    /// Property test: the model of what the store must hold, and the operations on it.
    mod model {
        use super::*;
        use prometheus::{IntCounterVec, Opts, Registry};
        use proptest::prelude::*;

        const TARGETS: [&str; 3] = ["a", "b", "c"];
        const COLLECTORS: [&str; 2] = ["desktops", "sessions"];
        const STALENESS: Duration = Duration::from_secs(180);

        /// One series: family (0: gauge with two labels, 1: counter, 2: gauge without
        /// variable labels), a label value, and the value.
        type Series = (usize, u8, u32);

        #[derive(Debug, Clone)]
        enum Op {
            /// A poll of TARGETS[.0] × COLLECTORS[.1] that ends `.2`, `.3` seconds after
            /// the previous operation.
            Record(usize, usize, Outcome, u64),
            /// A scrape: the bodies are assembled (or reused) and checked.
            Scrape,
        }

        #[derive(Debug, Clone)]
        enum Outcome {
            Success(Vec<Series>),
            Partial(Vec<Series>),
            Failed,
        }

        fn outcome() -> impl Strategy<Value = Outcome> {
            let series = || proptest::collection::vec((0..3usize, 0..4u8, 0..1000u32), 0..6);
            prop_oneof![
                series().prop_map(Outcome::Success),
                series().prop_map(Outcome::Partial),
                Just(Outcome::Failed),
            ]
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                4 => (0..TARGETS.len(), 0..COLLECTORS.len(), outcome(), 0..150u64)
                    .prop_map(|(t, c, o, s)| Op::Record(t, c, o, s)),
                1 => Just(Op::Scrape),
            ]
        }

        /// The families a collector of `target` would report for `series`; the
        /// families share names across targets and collectors.
        fn families(target: &str, series: &[Series]) -> Vec<MetricFamily> {
            let registry = Registry::new_custom(
                None,
                Some([("target".to_string(), target.to_string())].into()),
            )
            .unwrap();
            let desktops = prometheus::GaugeVec::new(
                Opts::new("x_desktops", "Desktops by group and state."),
                &["group", "state"],
            )
            .unwrap();
            let logins = IntCounterVec::new(
                Opts::new("x_logins_total", "Logins \"so far\"."),
                &["group"],
            )
            .unwrap();
            let users = prometheus::Gauge::new("x_users", "Users.").unwrap();
            for (family, label, value) in series {
                let group = format!("g{label}");
                match family {
                    0 => desktops
                        .with_label_values(&[group.as_str(), "ready"])
                        .set(f64::from(*value) / 4.0),
                    1 => logins
                        .with_label_values(&[group.as_str()])
                        .inc_by(u64::from(*value)),
                    _ => users.set(f64::from(*value)),
                }
            }
            for family in series.iter().map(|s| s.0) {
                // Registered once each, and only when used.
                let _ = match family {
                    0 => registry.register(Box::new(desktops.clone())),
                    1 => registry.register(Box::new(logins.clone())),
                    _ => registry.register(Box::new(users.clone())),
                };
            }
            registry.gather()
        }

        /// What a slot must hold after the operations so far.
        #[derive(Default)]
        struct ModelSlot {
            families: Vec<MetricFamily>,
            last_success: Option<SystemTime>,
        }

        /// The state encoded from scratch: every slot's families merged by name (in slot
        /// order), sorted by name, then the self-metrics; process_* (which change on
        /// every read) left out.
        fn from_scratch(
            model: &BTreeMap<SlotKey, ModelSlot>,
            own: &SelfMetrics,
        ) -> Vec<MetricFamily> {
            let mut merged: Vec<MetricFamily> = Vec::new();
            for family in model.values().flat_map(|slot| slot.families.iter()) {
                match merged.iter_mut().find(|m| m.name() == family.name()) {
                    Some(m) => m.mut_metric().extend(family.get_metric().iter().cloned()),
                    None => merged.push(family.clone()),
                }
            }
            merged.retain(|f| !f.get_metric().is_empty());
            merged.sort_by(|a, b| a.name().cmp(b.name()));
            merged.extend(
                own.gather()
                    .into_iter()
                    .filter(|f| !f.name().starts_with("process_")),
            );
            merged
        }

        /// The body without the blocks of process_* families.
        fn without_process(body: &[u8]) -> String {
            let text = std::str::from_utf8(body).unwrap();
            let mut out = String::new();
            let mut keep = true;
            let mut current = "";
            for line in text.split_inclusive('\n') {
                let name = match line.strip_prefix("# ") {
                    Some(comment) => comment.split(' ').nth(1).unwrap_or(""),
                    None => current,
                };
                if name != current {
                    current = name;
                    keep = !name.starts_with("process_");
                }
                if keep {
                    out.push_str(line);
                }
            }
            out
        }

        fn gunzip(body: &crate::encoding::Chunks) -> Vec<u8> {
            let mut out = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::GzDecoder::new(&body.to_bytes()[..]),
                &mut out,
            )
            .unwrap();
            out
        }

        fn check(store: &Store, model: &BTreeMap<SlotKey, ModelSlot>) -> Result<(), TestCaseError> {
            let bodies = store.bodies();
            let expected = from_scratch(model, store.self_metrics());
            let fresh = Bodies::from_families(&expected);
            let mut by_prometheus = Vec::new();
            prometheus::Encoder::encode(
                &prometheus::TextEncoder::new(),
                &expected,
                &mut by_prometheus,
            )
            .unwrap();
            let text = without_process(&bodies.text.to_bytes());
            prop_assert_eq!(&text, std::str::from_utf8(&by_prometheus).unwrap());
            let fresh_text = fresh.text.to_bytes();
            prop_assert_eq!(&text, std::str::from_utf8(&fresh_text).unwrap());
            prop_assert_eq!(without_process(&gunzip(&bodies.text_gzip)), text);
            let openmetrics = without_process(&bodies.openmetrics.to_bytes());
            let fresh_openmetrics = fresh.openmetrics.to_bytes();
            prop_assert_eq!(
                &openmetrics,
                std::str::from_utf8(&fresh_openmetrics).unwrap()
            );
            prop_assert_eq!(
                without_process(&gunzip(&bodies.openmetrics_gzip)),
                openmetrics
            );
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]

            /// After any sequence of polls (successful, partial, failed, failed past
            /// max_staleness) of several targets and collectors sharing family names,
            /// the assembled bodies, every format and gzip decompressed, equal an
            /// encoding of the same state from scratch (and the text one what the
            /// prometheus crate's encoder writes).
            #[test]
            fn assembled_bodies_equal_an_encoding_from_scratch(
                ops in proptest::collection::vec(op(), 1..40)
            ) {
                let store = Store::new(Arc::new(SelfMetrics::new()));
                let mut model: BTreeMap<SlotKey, ModelSlot> = BTreeMap::new();
                for target in TARGETS {
                    for collector in COLLECTORS {
                        let key = SlotKey { target: target.into(), collector };
                        store.register(key.clone(), STALENESS);
                        model.insert(key, ModelSlot::default());
                    }
                }
                let mut now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
                for op in ops {
                    match op {
                        Op::Scrape => check(&store, &model)?,
                        Op::Record(t, c, outcome, seconds) => {
                            now += Duration::from_secs(seconds);
                            let key = SlotKey { target: TARGETS[t].into(), collector: COLLECTORS[c] };
                            let slot = model.get_mut(&key).unwrap();
                            let outcome = match outcome {
                                Outcome::Success(series) => {
                                    slot.families = families(TARGETS[t], &series);
                                    slot.last_success = Some(now);
                                    PollOutcome::Success(slot.families.clone())
                                }
                                Outcome::Partial(series) => {
                                    slot.families = families(TARGETS[t], &series);
                                    PollOutcome::Partial(slot.families.clone())
                                }
                                Outcome::Failed => {
                                    if slot.last_success.is_some_and(|s| now.duration_since(s).unwrap() >= STALENESS) {
                                        slot.families.clear();
                                    }
                                    PollOutcome::Failed
                                }
                            };
                            store.record(&key, outcome, 0, Duration::from_millis(seconds), now);
                        }
                    }
                }
                check(&store, &model)?;
            }
        }
    }
}
