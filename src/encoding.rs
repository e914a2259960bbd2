//! Exposition formats: the "encode" half of the snapshot step.
//!
//! A poll's metric families are rendered once, when the store records them, into
//! [`RenderedFamily`]: the sample lines as bytes, plus the family's header in each
//! format, each also compressed on its own into a [`Deflated`] segment. The sample
//! lines are the same in both formats, so they exist once (plain and compressed): the
//! store keeps them per slot (not the protobuf families, several times larger).
//! [`Bodies::encode`] only lists pieces: each plain body is a list of [`Chunks`] sharing
//! the sample lines, headers in between, and each gzip body is one gzip member whose
//! deflate stream is the segments back to back (each segment is byte-aligned and
//! refers to nothing before it), with a CRC-32 combined from the segments' own. So a
//! change of one slot costs compressing that slot, and listing the pieces costs no
//! compression at all. Scrapes pick one of the prepared bodies by `Accept` and
//! `Accept-Encoding` and never encode.
//!
//! - Prometheus text format 0.0.4.
//! - OpenMetrics 1.0 text (`# EOF`; counters' metadata without `_total`, samples with).
//! - gzip of each (RFC 1952, one member; any gzip reader decodes it).

use std::cell::RefCell;
use std::io::Write;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use flate2::{Compress, Compression, Crc, FlushCompress};
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
    /// gzip of `text`: a header, the pieces' segments, a trailer.
    pub text_gzip: Chunks,
    /// OpenMetrics 1.0.
    pub openmetrics: Chunks,
    /// gzip of `openmetrics`, built the same way.
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
    /// `text_header`, as a deflate segment (stored, it is short).
    pub text_header_gzip: Deflated,
    /// `openmetrics_header`, as a deflate segment (stored).
    pub openmetrics_header_gzip: Deflated,
    /// `samples`, compressed: shared by both gzip bodies.
    pub samples_gzip: Deflated,
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
            text_header_gzip: Deflated::stored(&text_header),
            openmetrics_header_gzip: Deflated::stored(&openmetrics_header),
            samples_gzip: Deflated::compressed(&samples),
            text_header: Bytes::from(text_header),
            openmetrics_header: Bytes::from(openmetrics_header),
            samples: Bytes::from(samples),
        });
    }
    out
}

impl Bodies {
    /// Lists the pieces of rendered families in every format; nothing is compressed
    /// here, so the cost is one reference per piece. Families sharing a name (the same
    /// collector of several targets) must be adjacent: they are written as one family,
    /// under the first one's HELP and TYPE.
    pub fn encode(families: &[&RenderedFamily]) -> Bodies {
        let mut text = Vec::with_capacity(2 * families.len());
        let mut openmetrics = Vec::with_capacity(2 * families.len() + 1);
        let mut text_gzip = GzipMember::with_capacity(2 * families.len());
        let mut openmetrics_gzip = GzipMember::with_capacity(2 * families.len() + 1);
        let mut previous: Option<&str> = None;
        for family in families {
            if previous != Some(family.name.as_str()) {
                text.push(family.text_header.clone());
                text_gzip.push(&family.text_header_gzip);
                openmetrics.push(family.openmetrics_header.clone());
                openmetrics_gzip.push(&family.openmetrics_header_gzip);
                previous = Some(family.name.as_str());
            }
            text.push(family.samples.clone());
            text_gzip.push(&family.samples_gzip);
            openmetrics.push(family.samples.clone());
            openmetrics_gzip.push(&family.samples_gzip);
        }
        let (eof, eof_gzip) = openmetrics_eof();
        openmetrics.push(eof.clone());
        openmetrics_gzip.push(eof_gzip);
        Bodies {
            text: Chunks::from_pieces(text),
            text_gzip: text_gzip.finish(),
            openmetrics: Chunks::from_pieces(openmetrics),
            openmetrics_gzip: openmetrics_gzip.finish(),
        }
    }

    /// Renders and encodes `families` (for benchmarks and tests; the store renders
    /// each poll once and calls [`Bodies::encode`]).
    pub fn from_families(families: &[MetricFamily]) -> Bodies {
        let rendered = render(families);
        Bodies::encode(&rendered.iter().collect::<Vec<_>>())
    }
}

/// The OpenMetrics terminator, plain and as a segment.
fn openmetrics_eof() -> &'static (Bytes, Deflated) {
    static EOF: OnceLock<(Bytes, Deflated)> = OnceLock::new();
    EOF.get_or_init(|| {
        let eof = Bytes::from_static(b"# EOF\n");
        let gz = Deflated::stored(&eof);
        (eof, gz)
    })
}

/// A piece of a deflate stream (RFC 1951) that stands on its own: it ends on a byte
/// boundary with no final block, and refers to no byte before its start. Segments
/// written back to back are a deflate stream of their contents concatenated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deflated {
    /// The compressed bytes.
    data: Bytes,
    /// CRC-32 (IEEE) of the uncompressed bytes.
    crc: u32,
    /// Length of the uncompressed bytes.
    len: u64,
    /// x^(8·len) modulo the CRC-32 polynomial: what [`crc32_combine`] multiplies the
    /// CRC of everything before this segment by. Kept so that combining costs one
    /// multiplication.
    shift: u32,
}

impl Default for Deflated {
    fn default() -> Self {
        Deflated::stored(&[])
    }
}

impl Deflated {
    /// `data` compressed at the fast level (what a 10,000-series slot takes a few
    /// milliseconds for), ended with a sync flush.
    pub fn compressed(data: &[u8]) -> Deflated {
        thread_local! {
            /// One compressor per thread, reset for each segment (a new one allocates
            /// and clears its tables, hundreds of KiB).
            static COMPRESSOR: RefCell<Compress> =
                RefCell::new(Compress::new(Compression::fast(), false));
        }
        if data.is_empty() {
            return Deflated::stored(data);
        }
        let out = COMPRESSOR.with_borrow_mut(|compressor| {
            compressor.reset();
            let mut out = Vec::with_capacity(data.len() / 16 + 64);
            loop {
                let read = usize::try_from(compressor.total_in()).unwrap_or(usize::MAX);
                if out.len() == out.capacity() {
                    out.reserve(out.capacity());
                }
                let status = compressor.compress_vec(
                    data.get(read..).unwrap_or_default(),
                    &mut out,
                    FlushCompress::Sync,
                );
                // Compressing into memory cannot fail; fall back to a stored segment
                // rather than panic if it ever did.
                if status.is_err() {
                    return None;
                }
                // Done once all the input is read and the flush left room unused.
                if compressor.total_in() == data.len() as u64 && out.len() < out.capacity() {
                    break;
                }
            }
            out.shrink_to_fit();
            Some(out)
        });
        match out {
            Some(out) => Deflated::with_data(Bytes::from(out), data),
            None => Deflated::stored(data),
        }
    }

    /// `data` uncompressed, in stored blocks (for short pieces, where compressing
    /// would save nothing).
    pub fn stored(data: &[u8]) -> Deflated {
        let mut out = Vec::with_capacity(data.len() + 5 * (data.len() / 0xffff + 1));
        for block in data.chunks(0xffff) {
            // BFINAL = 0, BTYPE = 00 (stored), then padding to the byte boundary.
            out.push(0);
            let len = u16::try_from(block.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&(!len).to_le_bytes());
            out.extend_from_slice(block);
        }
        Deflated::with_data(Bytes::from(out), data)
    }

    fn with_data(data: Bytes, plain: &[u8]) -> Deflated {
        let mut crc = Crc::new();
        crc.update(plain);
        Deflated {
            data,
            crc: crc.sum(),
            len: plain.len() as u64,
            shift: x_pow_8n(plain.len() as u64),
        }
    }

    /// Compressed size in bytes.
    pub fn compressed_len(&self) -> usize {
        self.data.len()
    }
}

/// A gzip member (RFC 1952) built from segments: the header, the segments, an empty
/// final block and the trailer (CRC-32 and length of everything).
struct GzipMember {
    /// Header, then each non-empty segment's bytes.
    pieces: Vec<Bytes>,
    /// CRC-32 of the uncompressed bytes so far.
    crc: u32,
    /// Their length.
    len: u64,
}

impl GzipMember {
    fn with_capacity(segments: usize) -> GzipMember {
        // ID1 ID2, CM = deflate, no flags, no time, XFL = 4 (fastest), OS = unknown.
        const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 0xff];
        let mut pieces = Vec::with_capacity(segments + 2);
        pieces.push(Bytes::from_static(&HEADER));
        GzipMember {
            pieces,
            crc: 0,
            len: 0,
        }
    }

    fn push(&mut self, segment: &Deflated) {
        if segment.len == 0 {
            return;
        }
        self.pieces.push(segment.data.clone());
        self.crc = crc32_combine(self.crc, segment.crc, segment.shift);
        self.len += segment.len;
    }

    fn finish(mut self) -> Chunks {
        let mut trailer = Vec::with_capacity(10);
        // The final block: BFINAL = 1, BTYPE = 01 (fixed codes), end-of-block code
        // (seven zero bits), padding.
        trailer.extend_from_slice(&[0x03, 0x00]);
        trailer.extend_from_slice(&self.crc.to_le_bytes());
        // ISIZE is the length modulo 2^32.
        trailer.extend_from_slice(&(self.len as u32).to_le_bytes());
        self.pieces.push(Bytes::from(trailer));
        Chunks::from_pieces(self.pieces)
    }
}

/// The CRC-32 (IEEE 802.3) generator polynomial without its x^32 term, bit-reflected:
/// in this representation bit 31 is the coefficient of x^0 and bit 0 that of x^31.
const CRC32_POLYNOMIAL: u32 = 0xedb8_8320;
/// The polynomial 1 (x^0) in the reflected representation.
const X0: u32 = 0x8000_0000;

/// a(x)·b(x) modulo the CRC-32 polynomial, both in the reflected representation.
fn gf2_multiply(a: u32, b: u32) -> u32 {
    let mut product = 0;
    // b(x)·x^i, for i = 0, 1, ...: multiplying by x moves every coefficient one bit
    // down; the x^32 that falls off bit 0 is replaced by the rest of the polynomial.
    let mut shifted = b;
    for i in 0..32 {
        if a & (X0 >> i) != 0 {
            product ^= shifted;
        }
        shifted = if shifted & 1 == 1 {
            (shifted >> 1) ^ CRC32_POLYNOMIAL
        } else {
            shifted >> 1
        };
    }
    product
}

/// x^(8·bytes) modulo the CRC-32 polynomial (square and multiply).
fn x_pow_8n(bytes: u64) -> u32 {
    let mut result = X0;
    let mut power = X0 >> 8; // x^8: one byte
    let mut n = bytes;
    while n > 0 {
        if n & 1 == 1 {
            result = gf2_multiply(result, power);
        }
        power = gf2_multiply(power, power);
        n >>= 1;
    }
    result
}

/// The CRC-32 of `a` then `b`, from the CRC of each and `shift` = x^(8·len(b)) mod
/// the polynomial. The CRC's initial value and final inversion cancel out in this
/// form (the CRC of "" is 0), so no correction is needed.
fn crc32_combine(crc_a: u32, crc_b: u32, shift: u32) -> u32 {
    gf2_multiply(shift, crc_a) ^ crc_b
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
        let bodies = Bodies::from_families(&r.gather());
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
        let bodies = Bodies::from_families(&families);
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
        let bodies = Bodies::encode(&all);
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

    fn gunzip(body: &Chunks) -> Vec<u8> {
        let mut out = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&body.to_bytes()[..]),
            &mut out,
        )
        .unwrap();
        out
    }

    proptest::proptest! {
        /// Segments compressed or stored separately, joined into one gzip member,
        /// decode to the concatenation, with a valid CRC (the decoder checks it).
        #[test]
        fn segments_back_to_back_are_one_gzip_member(
            parts in proptest::collection::vec(
                (proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000), proptest::prelude::any::<bool>()),
                0..8,
            )
        ) {
            let mut member = GzipMember::with_capacity(parts.len());
            let mut plain = Vec::new();
            let mut crc = Crc::new();
            for (part, compress) in &parts {
                let segment = if *compress { Deflated::compressed(part) } else { Deflated::stored(part) };
                member.push(&segment);
                plain.extend_from_slice(part);
                crc.update(part);
            }
            let body = member.finish();
            proptest::prop_assert_eq!(gunzip(&body), plain);
            let bytes = body.to_bytes();
            let trailer_crc = u32::from_le_bytes(bytes[bytes.len() - 8..bytes.len() - 4].try_into().unwrap());
            proptest::prop_assert_eq!(trailer_crc, crc.sum());
        }
    }

    #[test]
    fn crc_combination_matches_the_crc_of_the_concatenation() {
        let a = b"workspace_exporter_collector_up{target=\"t\"} 1\n".repeat(37);
        let b = b"x_desktops 3\n".repeat(1000);
        let crc = |data: &[u8]| {
            let mut c = Crc::new();
            c.update(data);
            c.sum()
        };
        let joined = [&a[..], &b[..]].concat();
        assert_eq!(
            crc32_combine(crc(&a), crc(&b), x_pow_8n(b.len() as u64)),
            crc(&joined)
        );
        assert_eq!(crc32_combine(0, crc(&b), x_pow_8n(b.len() as u64)), crc(&b));
        assert_eq!(crc32_combine(crc(&a), 0, x_pow_8n(0)), crc(&a));
    }

    #[test]
    fn a_long_piece_spans_several_stored_blocks() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut member = GzipMember::with_capacity(1);
        let segment = Deflated::stored(&data);
        assert_eq!(segment.compressed_len(), data.len() + 5 * 4);
        member.push(&segment);
        assert_eq!(gunzip(&member.finish()), data);
    }

    #[test]
    fn gzip_bodies_compress_their_samples() {
        let bodies = Bodies::from_families(&sample_registry("r").gather());
        for (plain, gz) in [
            (&bodies.text, &bodies.text_gzip),
            (&bodies.openmetrics, &bodies.openmetrics_gzip),
        ] {
            assert_eq!(gunzip(gz), plain.to_bytes());
        }
        // Many similar lines shrink several times over.
        let b = crate::collectors::SeriesBuilder::new(&[("region", "r")]);
        let g = b.gauge_vec("x_desktops", "Desktops.", &["desktop_group"]);
        for i in 0..2000 {
            g.with_label_values(&[format!("group-{i}").as_str()])
                .set(f64::from(i));
        }
        let bodies = Bodies::from_families(&b.finish());
        assert!(
            bodies.text_gzip.len() * 5 < bodies.text.len(),
            "{} gzip bytes for {} plain",
            bodies.text_gzip.len(),
            bodies.text.len()
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
