//! Micro-benchmarks of the hot paths: signing a request, decoding a full list-sessions
//! page, rendering and encoding a 10,000-series snapshot in every format, and picking
//! a prepared body for a scrape. Run with `cargo bench`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use workspace_exporter::cloud::huawei::signer::{self, RequestToSign};
use workspace_exporter::cloud::huawei::workspace_app::SessionPage;
use workspace_exporter::collectors::SeriesBuilder;
use workspace_exporter::encoding::Bodies;
use workspace_exporter::self_metrics::SelfMetrics;
use workspace_exporter::store::{PollOutcome, SlotKey, Store};

fn sign(c: &mut Criterion) {
    let query: Vec<(String, String)> = [
        ("query_begin_time", "2026-11-21T05:30:00.000Z"),
        ("query_end_time", "2026-11-22T05:30:00.000Z"),
        ("limit", "100"),
        ("offset", "1200"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let headers: Vec<(String, String)> = [
        ("Content-Type", "application/json"),
        ("X-Project-Id", "0123456789abcdef0123456789abcdef"),
        ("User-Agent", "workspace-exporter/0.1.0"),
        ("X-Sdk-Date", "20261122T053000Z"),
        ("Host", "appstream.cn-north-4.myhuaweicloud.com"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    c.bench_function("huawei_sign_list_sessions", |b| {
        b.iter(|| {
            let req = RequestToSign {
                method: "GET",
                path: "/v1/0123456789abcdef0123456789abcdef/session/list-sessions",
                query: &query,
                headers: &headers,
                body: b"",
            };
            black_box(signer::sign(black_box(&req), "AK", "SK"))
        })
    });
}

fn decode_page(c: &mut Criterion) {
    let item = r#"{"id":"0a0666f634a54131826bf688058d0bc6","session_stamp":"S-1-5-21-1908276142-124560728-768171367-3204-XXXXX@wksapp.huawei.com-HDP-2","protocol_type":"HDP","login_user":"XXX@wksapp.huawei.com","session_type":"2","app_server_group_id":"e75fef51-bbb7-489c-b4bd-63e0587faa41","app_server_group_name":"TEST - Do not modify","pre_conn_time":"2024-03-13T03:12:47Z","start_time":"2024-03-13T03:12:47Z","machine_sid":"S-1-5-21-1908276142-124560728-768171367-3204","machine_name":"APS-CUY5MR45XX","session_state":"AppcInit","agent_version":"23.5.0.0606","vm_ip":"172.*.*.218","failed_reason":"","failed_code":"","tenant_id":"26a0420e9e284569a23f1b2f7d9b5011"}"#;
    let body = format!(
        "{{\"count\":100000,\"items\":[{}]}}",
        vec![item; 100].join(",")
    );
    c.bench_function("decode_list_sessions_page_100", |b| {
        b.iter(|| {
            let page: SessionPage = workspace_exporter::cloud::http::decode(
                "list_sessions",
                black_box(body.as_bytes()),
            )
            .unwrap();
            black_box(page)
        })
    });
}

fn encode_snapshot(c: &mut Criterion) {
    let series =
        SeriesBuilder::new(&[("region", "cn-north-4"), ("project_id", "0123456789abcdef")]);
    let gauge = series.gauge_vec(
        "huaweicloud_workspace_desktop_sessions",
        "Desktops by login state.",
        &["desktop_group", "session_state"],
    );
    for g in 0..2000 {
        for s in ["in_use", "ready", "disconnected", "unregistered", "unknown"] {
            gauge
                .with_label_values(&[format!("desktop-group-{g:04}").as_str(), s])
                .set(g as f64);
        }
    }
    let families = series.finish();
    // What a poll costs the store: render the families once (and compress them once,
    // for both gzip bodies), then list the body pieces.
    c.bench_function("render_and_encode_10000_series", |b| {
        b.iter(|| black_box(Bodies::from_families(black_box(&families))))
    });
    // What assembling a body costs per slot: the rendered and compressed pieces are
    // only listed, nothing is compressed again.
    let rendered = workspace_exporter::encoding::render(&families);
    let pieces: Vec<_> = rendered.iter().collect();
    c.bench_function("encode_10000_rendered_series", |b| {
        b.iter(|| black_box(Bodies::encode(black_box(&pieces))))
    });
    let store = Store::new(Arc::new(SelfMetrics::new()));
    let key = SlotKey {
        target: "t".into(),
        collector: "desktop_status",
    };
    store.register(key.clone(), Duration::from_secs(180));
    c.bench_function("store_record_10000_series", |b| {
        b.iter(|| {
            store.record(
                &key,
                PollOutcome::Success(families.clone()),
                0,
                Duration::ZERO,
                UNIX_EPOCH,
            )
        })
    });
    c.bench_function("scrape_path_pick_body", |b| {
        let wanted = workspace_exporter::encoding::Negotiated::from_headers(None, Some("gzip"));
        b.iter(|| black_box(wanted.pick(&store.bodies())))
    });
}

criterion_group!(benches, sign, decode_page, encode_snapshot);
criterion_main!(benches);
