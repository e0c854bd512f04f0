//! Log output (control.md CTL-LOG-1): with `EKC_LOG=json` every stdout line is one JSON object with
//! `ts` (milliseconds since start), `level`, `node`, `msg` and the event's fields (e.g. `clause`).

use std::fmt;
use std::time::Instant;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::config::LogFormat;

struct JsonLine {
    node: String,
    start: Instant,
}

#[derive(Default)]
struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_string(), Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), Value::String(value.to_string()));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), value.into());
    }
}

impl<S, N> FormatEvent<S, N> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let level = match *event.metadata().level() {
            Level::ERROR => "error",
            Level::WARN => "warn",
            Level::INFO => "info",
            _ => "debug",
        };
        let mut line = Map::new();
        line.insert("ts".into(), (self.start.elapsed().as_millis() as u64).into());
        line.insert("level".into(), level.into());
        line.insert("node".into(), self.node.clone().into());
        line.insert("msg".into(), fields.0.remove("message").unwrap_or(Value::String(String::new())));
        for (k, v) in fields.0 {
            line.entry(k).or_insert(v);
        }
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// Installs the global subscriber. `EKC_LOG_LEVEL=debug` adds debug lines (info by default).
pub fn init(format: LogFormat, node: &str) {
    let level = match std::env::var("EKC_LOG_LEVEL").as_deref() {
        Ok("debug") => Level::DEBUG,
        Ok("warn") => Level::WARN,
        _ => Level::INFO,
    };
    let builder = tracing_subscriber::fmt().with_max_level(level).with_writer(std::io::stdout);
    match format {
        LogFormat::Json => builder.event_format(JsonLine { node: node.to_string(), start: Instant::now() }).init(),
        LogFormat::Text => builder.with_ansi(false).init(),
    }
}
