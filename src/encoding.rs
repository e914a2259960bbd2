//! Exposition formats: the "encode" half of the snapshot step.
//!
//! A poll's metric families are rendered once, when the store records them, into
//! [`RenderedFamily`]: the sample lines as bytes, plus the family's header in each
//! format. The sample lines are the same in both formats, so they exist once: the store
//! keeps them per slot (not the protobuf families, several times larger), and each plain
//! body is a list of [`Chunks`] sharing them, headers in between. After each change the
//! store calls [`Bodies::encode`], which lists the pieces and compresses them; scrapes
//! pick one of the prepared bodies by `Accept` and `Accept-Encoding` and never encode.
//!
//! - Prometheus text format 0.0.4.
//! - OpenMetrics 1.0 text (`# EOF`; counters' metadata without `_total`, samples with).
//! - gzip of each.

use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use prometheus::proto::{MetricFamily, MetricType};

/// Content type of the text format 0.0.4.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Content type of OpenMetrics 1.0.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every variant of one snapshot's `/metrics` body.
#[derive(Debug, Clone, Default)]
pub struct Bodies {
    /// Text format 0.0.4.
    pub text: Chunks,
    /// gzip of `text`, one piece.
    pub text_gzip: Chunks,
    /// OpenMetrics 1.0.
    pub openmetrics: Chunks,
    /// gzip of `openmetrics`, one piece.
    pub openmetrics_gzip: Chunks,
}

/// A body made of shared pieces, sent one after another. Cloning it (once per scrape)
/// clones one reference count, not bytes.
#[derive(Debug, Clone, Default)]
pub struct Chunks {
    /// The pieces, none of them empty.
    pieces: Arc<[Bytes]>,
    /// Their total length.
    len: usize,
}

impl Chunks {
    /// A body of these pieces, in order.
    pub fn from_pieces(pieces: Vec<Bytes>) -> Chunks {
        let pieces: Vec<Bytes> = pieces.into_iter().filter(|p| !p.is_empty()).collect();
        Chunks {
            len: pieces.iter().map(Bytes::len).sum(),
            pieces: pieces.into(),
        }
    }

    /// The pieces, in order.
    pub fn pieces(&self) -> &[Bytes] {
        &self.pieces
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The pieces joined into one buffer (a copy; for tests and tools, not scrapes).
    pub fn to_bytes(&self) -> Bytes {
        match &self.pieces[..] {
            [] => Bytes::new(),
            [one] => one.clone(),
            many => {
                let mut out = Vec::with_capacity(self.len);
                for piece in many {
                    out.extend_from_slice(piece);
                }
                Bytes::from(out)
            }
        }
    }
}

/// Why a snapshot could not be encoded.
#[derive(Debug, thiserror::Error)]
#[error("cannot encode the metrics: {0}")]
pub struct EncodeError(String);

/// The metric types the exporter writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A value that goes up and down.
    Gauge,
    /// A monotonic count; its name ends in `_total`.
    Counter,
}

/// One metric family, rendered once: what the store keeps per slot.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedFamily {
    /// The name the samples carry (a counter's ends in `_total`).
    pub name: String,
    /// Gauge or counter.
    pub kind: Kind,
    /// `# HELP` and `# TYPE` lines in text format 0.0.4.
    pub text_header: Bytes,
    /// `# TYPE` and `# HELP` lines in OpenMetrics 1.0.
    pub openmetrics_header: Bytes,
    /// `name{labels} value` lines, each ending in a newline; the same bytes in text
    /// format 0.0.4 and OpenMetrics 1.0, shared by both bodies.
    pub samples: Bytes,
}

/// Renders metric families for the store. Families without samples are left out, as
/// are types other than gauge and counter (the exporter produces none). A counter
/// whose name lacks `_total` gets it, so both formats agree on the sample name.
pub fn render(families: &[MetricFamily]) -> Vec<RenderedFamily> {
    let mut out = Vec::with_capacity(families.len());
    for family in families {
        let kind = match family.get_field_type() {
            MetricType::GAUGE => Kind::Gauge,
            MetricType::COUNTER => Kind::Counter,
            _ => continue,
        };
        if family.get_metric().is_empty() {
            continue;
        }
        let name = match kind {
            Kind::Counter if !family.name().ends_with("_total") => {
                format!("{}_total", family.name())
            }
            _ => family.name().to_string(),
        };
        let mut samples = Vec::with_capacity(family.get_metric().len() * (name.len() + 96));
        for metric in family.get_metric() {
            samples.extend_from_slice(name.as_bytes());
            let labels = metric.get_label();
            if !labels.is_empty() {
                samples.push(b'{');
                for (i, pair) in labels.iter().enumerate() {
                    if i > 0 {
                        samples.push(b',');
                    }
                    samples.extend_from_slice(pair.name().as_bytes());
                    samples.extend_from_slice(b"=\"");
                    escape_into(&mut samples, pair.value(), true);
                    samples.push(b'"');
                }
                samples.push(b'}');
            }
            samples.push(b' ');
            let value = match kind {
                Kind::Counter => metric.get_counter().get_value(),
                Kind::Gauge => metric.get_gauge().get_value(),
            };
            write_float(&mut samples, value);
            samples.push(b'\n');
        }
        let mut text_header = Vec::new();
        write_text_header(&mut text_header, &name, family.help(), kind);
        let mut openmetrics_header = Vec::new();
        write_openmetrics_header(&mut openmetrics_header, &name, family.help(), kind);
        samples.shrink_to_fit();
        out.push(RenderedFamily {
            name,
            kind,
            text_header: Bytes::from(text_header),
            openmetrics_header: Bytes::from(openmetrics_header),
            samples: Bytes::from(samples),
        });
    }
    out
}

impl Bodies {
    /// Encodes rendered families in every format. Families sharing a name (the same
    /// collector of several targets) must be adjacent: they are written as one family,
    /// under the first one's HELP and TYPE.
    pub fn encode(families: &[&RenderedFamily]) -> Result<Bodies, EncodeError> {
        let mut text = Vec::with_capacity(2 * families.len());
        let mut openmetrics = Vec::with_capacity(2 * families.len() + 1);
        let mut previous: Option<&str> = None;
        for family in families {
            if previous != Some(family.name.as_str()) {
                text.push(family.text_header.clone());
                openmetrics.push(family.openmetrics_header.clone());
                previous = Some(family.name.as_str());
            }
            text.push(family.samples.clone());
            openmetrics.push(family.samples.clone());
        }
        openmetrics.push(Bytes::from_static(b"# EOF\n"));
        let text = Chunks::from_pieces(text);
        let openmetrics = Chunks::from_pieces(openmetrics);
        Ok(Bodies {
            text_gzip: gzip(&text)?,
            text,
            openmetrics_gzip: gzip(&openmetrics)?,
            openmetrics,
        })
    }

    /// Renders and encodes `families` (for benchmarks and tests; the store renders
    /// each poll once and calls [`Bodies::encode`]).
    pub fn from_families(families: &[MetricFamily]) -> Result<Bodies, EncodeError> {
        let rendered = render(families);
        Bodies::encode(&rendered.iter().collect::<Vec<_>>())
    }
}

fn kind_name(kind: Kind) -> &'static [u8] {
    match kind {
        Kind::Gauge => b"gauge",
        Kind::Counter => b"counter",
    }
}

/// `# HELP` (when there is help) and `# TYPE` in text format 0.0.4, which escapes
/// backslash and newline in HELP but not double quotes.
fn write_text_header(out: &mut Vec<u8>, name: &str, help: &str, kind: Kind) {
    if !help.is_empty() {
        out.extend_from_slice(b"# HELP ");
        out.extend_from_slice(name.as_bytes());
        out.push(b' ');
        escape_into(out, help, false);
        out.push(b'\n');
    }
    out.extend_from_slice(b"# TYPE ");
    out.extend_from_slice(name.as_bytes());
    out.push(b' ');
    out.extend_from_slice(kind_name(kind));
    out.push(b'\n');
}

/// `# TYPE` and `# HELP` in OpenMetrics 1.0: a counter's metadata drops `_total`.
fn write_openmetrics_header(out: &mut Vec<u8>, name: &str, help: &str, kind: Kind) {
    let base = match kind {
        Kind::Counter => name.strip_suffix("_total").unwrap_or(name),
        Kind::Gauge => name,
    };
    out.extend_from_slice(b"# TYPE ");
    out.extend_from_slice(base.as_bytes());
    out.push(b' ');
    out.extend_from_slice(kind_name(kind));
    out.push(b'\n');
    if !help.is_empty() {
        out.extend_from_slice(b"# HELP ");
        out.extend_from_slice(base.as_bytes());
        out.push(b' ');
        escape_into(out, help, true);
        out.push(b'\n');
    }
}

/// gzip of a body, as one piece, its buffer no larger than the result.
fn gzip(body: &Chunks) -> Result<Chunks, EncodeError> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(body.len() / 32 + 64),
        Compression::fast(),
    );
    for piece in body.pieces() {
        encoder
            .write_all(piece)
            .map_err(|e| EncodeError(e.to_string()))?;
    }
    let mut out = encoder.finish().map_err(|e| EncodeError(e.to_string()))?;
    out.shrink_to_fit();
    Ok(Chunks::from_pieces(vec![Bytes::from(out)]))
}

/// Escapes backslash and newline, and double quotes when `quotes` is set (label
/// values in both formats, HELP in OpenMetrics).
fn escape_into(out: &mut Vec<u8>, s: &str, quotes: bool) {
    for b in s.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' if quotes => out.extend_from_slice(b"\\\""),
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
    pub fn pick(self, bodies: &Bodies) -> (Chunks, &'static str) {
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
        let bodies = Bodies::from_families(&r.gather()).unwrap();
        let text = String::from_utf8(bodies.openmetrics.to_bytes().to_vec()).unwrap();
        assert_eq!(
            text,
            "# TYPE x_requests counter\n# HELP x_requests Requests \\\"quoted\\\"\\nnext.\nx_requests_total{l=\"a\\\"b\\\\c\\nd\"} 3\n# EOF\n"
        );
    }

    fn sample_registry(region: &str) -> Registry {
        let r = Registry::new_custom(
            None,
            Some([("region".to_string(), region.to_string())].into()),
        )
        .unwrap();
        let g = prometheus::GaugeVec::new(
            Opts::new(
                "x_desktops",
                "Desktops \"by\" state\\n and \\ more.\nNext line.",
            ),
            &["desktop_group", "state"],
        )
        .unwrap();
        r.register(Box::new(g.clone())).unwrap();
        g.with_label_values(&["Call Center (Shift \"B\")", "in_use"])
            .set(12.0);
        g.with_label_values(&["研发\\Beijing\n", "ready"]).set(0.25);
        g.with_label_values(&["", "ready"]).set(-3.0);
        let c = IntCounterVec::new(Opts::new("x_calls_total", "Calls."), &["api"]).unwrap();
        r.register(Box::new(c.clone())).unwrap();
        c.with_label_values(&["list"]).inc_by(7);
        // Registered but without samples: left out, as the text encoder requires.
        let empty = prometheus::GaugeVec::new(Opts::new("x_empty", "Nothing."), &["l"]).unwrap();
        r.register(Box::new(empty)).unwrap();
        r
    }

    #[test]
    fn text_matches_the_prometheus_crate_encoder() {
        let families = sample_registry("cn-north-4").gather();
        let mut expected = Vec::new();
        prometheus::Encoder::encode(&prometheus::TextEncoder::new(), &families, &mut expected)
            .unwrap();
        let bodies = Bodies::from_families(&families).unwrap();
        assert_eq!(
            String::from_utf8(bodies.text.to_bytes().to_vec()).unwrap(),
            String::from_utf8(expected).unwrap()
        );
    }

    #[test]
    fn families_of_one_name_from_several_slots_share_one_header() {
        let a = render(&sample_registry("a").gather());
        let b = render(&sample_registry("b").gather());
        let mut all: Vec<&RenderedFamily> = a.iter().chain(b.iter()).collect();
        all.sort_by(|x, y| x.name.cmp(&y.name));
        let bodies = Bodies::encode(&all).unwrap();
        let text = String::from_utf8(bodies.text.to_bytes().to_vec()).unwrap();
        assert_eq!(
            text.matches("# TYPE x_desktops gauge\n").count(),
            1,
            "{text}"
        );
        assert_eq!(text.matches("# TYPE x_calls_total counter\n").count(), 1);
        assert_eq!(text.matches("region=\"a\"").count(), 4);
        assert_eq!(text.matches("region=\"b\"").count(), 4);
        let om = String::from_utf8(bodies.openmetrics.to_bytes().to_vec()).unwrap();
        assert_eq!(om.matches("# TYPE x_calls counter\n").count(), 1, "{om}");
        assert!(om.ends_with("# EOF\n"));
        // The gzip variants hold exactly the plain bodies.
        for (plain, gz) in [
            (&bodies.text, &bodies.text_gzip),
            (&bodies.openmetrics, &bodies.openmetrics_gzip),
        ] {
            let mut out = Vec::new();
            let gz = gz.to_bytes();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut out)
                .unwrap();
            assert_eq!(&out[..], &plain.to_bytes()[..]);
        }
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
