//! Exposition formats: the "encode" half of the snapshot step. The store calls
//! [`Bodies::encode`] once per snapshot change; scrapes pick one of the prepared
//! bodies by `Accept` and `Accept-Encoding` and never encode.
//!
//! - Prometheus text format 0.0.4, by the `prometheus` crate's encoder.
//! - OpenMetrics 1.0 text (`# EOF`; counters' metadata without `_total`, samples with).
//! - gzip of each.

use std::io::Write;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use prometheus::proto::{MetricFamily, MetricType};
use prometheus::{Encoder, TextEncoder};

/// Content type of the text format 0.0.4.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Content type of OpenMetrics 1.0.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every variant of one snapshot's `/metrics` body.
#[derive(Debug, Clone, Default)]
pub struct Bodies {
    /// Text format 0.0.4.
    pub text: Bytes,
    /// gzip of `text`.
    pub text_gzip: Bytes,
    /// OpenMetrics 1.0.
    pub openmetrics: Bytes,
    /// gzip of `openmetrics`.
    pub openmetrics_gzip: Bytes,
}

/// Why a snapshot could not be encoded.
#[derive(Debug, thiserror::Error)]
#[error("cannot encode the metrics: {0}")]
pub struct EncodeError(String);

impl Bodies {
    /// Encodes `families` in every format.
    pub fn encode(families: &[MetricFamily]) -> Result<Bodies, EncodeError> {
        let mut text = Vec::with_capacity(64 * 1024);
        TextEncoder::new()
            .encode(families, &mut text)
            .map_err(|e| EncodeError(e.to_string()))?;
        let openmetrics = encode_openmetrics(families);
        Ok(Bodies {
            text_gzip: gzip(&text)?,
            text: Bytes::from(text),
            openmetrics_gzip: gzip(&openmetrics)?,
            openmetrics: Bytes::from(openmetrics),
        })
    }
}

fn gzip(data: &[u8]) -> Result<Bytes, EncodeError> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(data.len() / 4 + 64), Compression::fast());
    encoder
        .write_all(data)
        .map_err(|e| EncodeError(e.to_string()))?;
    encoder
        .finish()
        .map(Bytes::from)
        .map_err(|e| EncodeError(e.to_string()))
}

/// Encodes metric families as OpenMetrics 1.0 text. Gauges and counters are written;
/// the exporter produces no other types.
pub fn encode_openmetrics(families: &[MetricFamily]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 * 1024);
    for family in families {
        let name = family.name();
        let (kind, base, suffix) = match family.get_field_type() {
            MetricType::COUNTER => match name.strip_suffix("_total") {
                Some(base) => ("counter", base, "_total"),
                None => ("counter", name, "_total"),
            },
            MetricType::GAUGE => ("gauge", name, ""),
            // The exporter produces only gauges and counters.
            _ => continue,
        };
        out.extend_from_slice(b"# TYPE ");
        out.extend_from_slice(base.as_bytes());
        out.push(b' ');
        out.extend_from_slice(kind.as_bytes());
        out.push(b'\n');
        if !family.help().is_empty() {
            out.extend_from_slice(b"# HELP ");
            out.extend_from_slice(base.as_bytes());
            out.push(b' ');
            escape_into(&mut out, family.help());
            out.push(b'\n');
        }
        for metric in family.get_metric() {
            out.extend_from_slice(base.as_bytes());
            out.extend_from_slice(suffix.as_bytes());
            let labels = metric.get_label();
            if !labels.is_empty() {
                out.push(b'{');
                for (i, pair) in labels.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(pair.name().as_bytes());
                    out.extend_from_slice(b"=\"");
                    escape_into(&mut out, pair.value());
                    out.push(b'"');
                }
                out.push(b'}');
            }
            out.push(b' ');
            let value = match family.get_field_type() {
                MetricType::COUNTER => metric.get_counter().get_value(),
                _ => metric.get_gauge().get_value(),
            };
            write_float(&mut out, value);
            out.push(b'\n');
        }
    }
    out.extend_from_slice(b"# EOF\n");
    out
}

/// Escapes `\`, `"` and newline, as both formats require in label values and HELP.
fn escape_into(out: &mut Vec<u8>, s: &str) {
    for b in s.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
}

fn write_float(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"+Inf" } else { b"-Inf" });
    } else {
        let _ = write!(out, "{v}");
    }
}

/// Which body a request wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// OpenMetrics rather than text 0.0.4.
    pub openmetrics: bool,
    /// gzip-compressed.
    pub gzip: bool,
}

impl Negotiated {
    /// Reads `Accept` and `Accept-Encoding` (either may be absent).
    pub fn from_headers(accept: Option<&str>, accept_encoding: Option<&str>) -> Negotiated {
        Negotiated {
            openmetrics: accept.is_some_and(|a| accepts(a, "application/openmetrics-text")),
            gzip: accept_encoding.is_some_and(|a| accepts(a, "gzip")),
        }
    }

    /// The body and its content type.
    pub fn pick(self, bodies: &Bodies) -> (Bytes, &'static str) {
        match (self.openmetrics, self.gzip) {
            (false, false) => (bodies.text.clone(), TEXT_CONTENT_TYPE),
            (false, true) => (bodies.text_gzip.clone(), TEXT_CONTENT_TYPE),
            (true, false) => (bodies.openmetrics.clone(), OPENMETRICS_CONTENT_TYPE),
            (true, true) => (bodies.openmetrics_gzip.clone(), OPENMETRICS_CONTENT_TYPE),
        }
    }
}

/// Whether a comma-separated header lists `token` with a non-zero quality.
fn accepts(header: &str, token: &str) -> bool {
    header.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let name = parts.next().unwrap_or("");
        if !name.eq_ignore_ascii_case(token) {
            return false;
        }
        !parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f64>().ok())
                .is_some_and(|q| q <= 0.0)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::{IntCounterVec, Opts, Registry};

    #[test]
    fn negotiation_honours_q_zero() {
        let n = Negotiated::from_headers(
            Some("application/openmetrics-text;version=1.0.0;q=0.9,text/plain;q=0.5"),
            Some("gzip, deflate"),
        );
        assert!(n.openmetrics && n.gzip);
        let n = Negotiated::from_headers(Some("text/plain"), Some("gzip;q=0, identity"));
        assert!(!n.openmetrics && !n.gzip);
        assert_eq!(
            Negotiated::from_headers(None, None),
            Negotiated {
                openmetrics: false,
                gzip: false
            }
        );
    }

    #[test]
    fn openmetrics_counters_and_escapes() {
        let r = Registry::new();
        let c = IntCounterVec::new(
            Opts::new("x_requests_total", "Requests \"quoted\"\nnext."),
            &["l"],
        )
        .unwrap();
        r.register(Box::new(c.clone())).unwrap();
        c.with_label_values(&["a\"b\\c\nd"]).inc_by(3);
        let text = String::from_utf8(encode_openmetrics(&r.gather())).unwrap();
        assert_eq!(
            text,
            "# TYPE x_requests counter\n# HELP x_requests Requests \\\"quoted\\\"\\nnext.\nx_requests_total{l=\"a\\\"b\\\\c\\nd\"} 3\n# EOF\n"
        );
    }

    #[test]
    fn special_floats() {
        let mut out = Vec::new();
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.5, 1e21] {
            write_float(&mut out, v);
            out.push(b' ');
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "NaN +Inf -Inf 0.5 1000000000000000000000 "
        );
    }
}
