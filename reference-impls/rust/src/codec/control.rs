//! Test-control protocol codec (control.md section 3): parses one request datagram into a typed
//! command (CTL-WIRE-2, CTL-CMD-*) and encodes responses with the error codes of CTL-WIRE-3.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::fmt;

/// CTL-WIRE-1.
pub const MAX_DATAGRAM: usize = 1400;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Ping,
    Caps,
    Peers,
    Propose { key: String, value: String },
    Emit { event_type: u8, payload: [u8; 20] },
    State,
    Kv { offset: usize },
    Fields { offset: usize },
    SetNeighbours { modules: Vec<u8> },
    Stats,
    SetClockSkew { offset_us: i64 },
    Log { origin: u8, from: u32 },
    /// CTL-CMD-13.
    Unsupported(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub id: u32,
    pub command: Command,
}

/// CTL-WIRE-3 error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Unsupported,
    BadRequest,
    Locked,
    Capacity,
    Stale,
    Busy,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Locked => "locked",
            ErrorCode::Capacity => "capacity",
            ErrorCode::Stale => "stale",
            ErrorCode::Busy => "busy",
        }
    }
}

/// A request that cannot be served: the response's `id` (0 when none could be read), code and detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    pub id: u32,
    pub code: ErrorCode,
    pub detail: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProposeArgs {
    key: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmitArgs {
    event_type: u8,
    payload_hex: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OffsetArgs {
    #[serde(default)]
    offset: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NeighbourArgs {
    modules: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SkewArgs {
    offset_us: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogArgs {
    origin: u8,
    from: u32,
}

/// A JSON value whose objects have unique member names (CTL-WIRE-2, as ROJ-WIRE-5). serde_json's
/// `Value` keeps the last of two equal names silently, which would let `{"id":1,"id":2,...}` or a
/// repeated argument through; a request with a duplicate is malformed and gets `bad_request` with
/// id 0 (CTL-WIRE-3), because which id it carries is ambiguous.
struct UniqueMembers(Value);

impl<'de> Deserialize<'de> for UniqueMembers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<UniqueMembers, D::Error> {
        d.deserialize_any(UniqueMembersVisitor).map(UniqueMembers)
    }
}

struct UniqueMembersVisitor;

impl<'de> Visitor<'de> for UniqueMembersVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value without duplicate member names")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(UniqueMembers(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if members.contains_key(&name) {
                return Err(de::Error::custom(format!("duplicate member name {name:?} (CTL-WIRE-2)")));
            }
            let UniqueMembers(v) = map.next_value()?;
            members.insert(name, v);
        }
        Ok(Value::Object(members))
    }
}

/// Parses one control datagram (CTL-WIRE-2/3).
pub fn parse_request(bytes: &[u8]) -> Result<Request, RequestError> {
    let bad = |id: u32, detail: String| RequestError { id, code: ErrorCode::BadRequest, detail };
    if bytes.len() > MAX_DATAGRAM {
        return Err(bad(0, "request exceeds 1400 bytes".into()));
    }
    let UniqueMembers(value) =
        serde_json::from_slice(bytes).map_err(|e| bad(0, format!("not JSON: {e}")))?;
    let obj = value.as_object().ok_or_else(|| bad(0, "request is not an object".into()))?;
    let id = obj
        .get("id")
        .and_then(Value::as_u64)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| bad(0, "missing or non-integer id".into()))?;
    if let Some(extra) = obj.keys().find(|k| !matches!(k.as_str(), "id" | "cmd" | "args")) {
        return Err(bad(id, format!("unknown member {extra:?}")));
    }
    let cmd = obj.get("cmd").and_then(Value::as_str).ok_or_else(|| bad(id, "missing cmd".into()))?;
    // CTL-WIRE-2: a name outside ^[a-z_]{1,32}$ is a malformed request, not an unknown command.
    if cmd.is_empty() || cmd.len() > 32 || !cmd.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        return Err(bad(id, format!("cmd {cmd:?} is not a command name (CTL-WIRE-2)")));
    }
    let args = match obj.get("args") {
        None => Value::Object(Map::new()),
        Some(a @ Value::Object(_)) => a.clone(),
        Some(_) => return Err(bad(id, "args is not an object".into())),
    };
    fn typed<T: for<'de> Deserialize<'de>>(id: u32, args: Value) -> Result<T, RequestError> {
        serde_json::from_value(args).map_err(|e| RequestError { id, code: ErrorCode::BadRequest, detail: e.to_string() })
    }
    let command = match cmd {
        "ping" | "caps" | "peers" | "state" | "stats" => {
            typed::<NoArgs>(id, args)?;
            match cmd {
                "ping" => Command::Ping,
                "caps" => Command::Caps,
                "peers" => Command::Peers,
                "state" => Command::State,
                _ => Command::Stats,
            }
        }
        "propose" => {
            let a: ProposeArgs = typed(id, args)?;
            if !crate::codec::roj_json::is_key(&a.key) || !crate::codec::roj_json::is_value(&a.value) {
                return Err(bad(id, "key or value violates ROJ-PROP-2".into()));
            }
            Command::Propose { key: a.key, value: a.value }
        }
        "emit" => {
            let a: EmitArgs = typed(id, args)?;
            let is_lower_hex = a.payload_hex.len() == 40 && a.payload_hex.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
            if !is_lower_hex {
                return Err(bad(id, "payload_hex must be 40 lowercase hex digits".into()));
            }
            let mut payload = [0u8; 20];
            hex::decode_to_slice(&a.payload_hex, &mut payload).map_err(|e| bad(id, e.to_string()))?;
            Command::Emit { event_type: a.event_type, payload }
        }
        "kv" => {
            let a: OffsetArgs = typed(id, args)?;
            if a.offset > 64 {
                return Err(bad(id, "offset above 64".into()));
            }
            Command::Kv { offset: a.offset as usize }
        }
        "fields" => {
            let a: OffsetArgs = typed(id, args)?;
            if a.offset > 256 {
                return Err(bad(id, "offset above 256".into()));
            }
            Command::Fields { offset: a.offset as usize }
        }
        "set_neighbours" => {
            let a: NeighbourArgs = typed(id, args)?;
            let mut sorted = a.modules.clone();
            sorted.sort_unstable();
            sorted.dedup();
            if a.modules.len() > 7 || sorted.len() != a.modules.len() || a.modules.contains(&0) {
                return Err(bad(id, "modules: at most 7 distinct ids 1..255".into()));
            }
            Command::SetNeighbours { modules: a.modules }
        }
        "set_clock_skew" => {
            let a: SkewArgs = typed(id, args)?;
            if a.offset_us.unsigned_abs() > u32::MAX as u64 {
                return Err(bad(id, "offset_us outside +-4294967295".into()));
            }
            Command::SetClockSkew { offset_us: a.offset_us }
        }
        "log" => {
            let a: LogArgs = typed(id, args)?;
            if a.origin == 0 || a.from == 0 {
                return Err(bad(id, "origin and from must be >= 1".into()));
            }
            Command::Log { origin: a.origin, from: a.from }
        }
        other => Command::Unsupported(other.chars().take(32).collect()),
    };
    Ok(Request { id, command })
}

/// `{"id", "ok": true, "result"}`.
pub fn ok_response(id: u32, result: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"id": id, "ok": true, "result": result})).expect("json value serializes")
}

/// `{"id", "ok": false, "error", "detail"}`; the detail is cut to the schema's 256 characters.
pub fn error_response(id: u32, code: ErrorCode, detail: &str) -> Vec<u8> {
    let detail: String = detail.chars().take(256).collect();
    serde_json::to_vec(&json!({"id": id, "ok": false, "error": code.as_str(), "detail": detail}))
        .expect("json value serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_command() {
        let cases = [
            (r#"{"id":1,"cmd":"ping"}"#, Command::Ping),
            (r#"{"id":1,"cmd":"caps","args":{}}"#, Command::Caps),
            (r#"{"id":1,"cmd":"propose","args":{"key":"bay3","value":"11000"}}"#, Command::Propose { key: "bay3".into(), value: "11000".into() }),
            (r#"{"id":1,"cmd":"kv"}"#, Command::Kv { offset: 0 }),
            (r#"{"id":1,"cmd":"fields","args":{"offset":8}}"#, Command::Fields { offset: 8 }),
            (r#"{"id":1,"cmd":"set_neighbours","args":{"modules":[]}}"#, Command::SetNeighbours { modules: vec![] }),
            (r#"{"id":1,"cmd":"set_clock_skew","args":{"offset_us":-5}}"#, Command::SetClockSkew { offset_us: -5 }),
            (r#"{"id":1,"cmd":"log","args":{"origin":3,"from":1}}"#, Command::Log { origin: 3, from: 1 }),
            (r#"{"id":1,"cmd":"reboot"}"#, Command::Unsupported("reboot".into())),
        ];
        for (text, want) in cases {
            assert_eq!(parse_request(text.as_bytes()).unwrap().command, want, "{text}");
        }
        let emit = parse_request(br#"{"id":9,"cmd":"emit","args":{"event_type":129,"payload_hex":"0102030405060708090a0b0c0d0e0f1011121314"}}"#).unwrap();
        assert!(matches!(emit.command, Command::Emit { event_type: 129, payload } if payload[19] == 0x14));
    }

    #[test]
    fn bad_requests_get_clear_codes() {
        let e = parse_request(b"garbage").unwrap_err();
        assert_eq!((e.id, e.code), (0, ErrorCode::BadRequest));
        let e = parse_request(br#"{"id":"7","cmd":"ping"}"#).unwrap_err();
        assert_eq!(e.id, 0);
        let e = parse_request(br#"{"id":7,"cmd":"ping","args":{"x":1}}"#).unwrap_err();
        assert_eq!((e.id, e.code), (7, ErrorCode::BadRequest));
        let e = parse_request(br#"{"id":7,"cmd":"propose","args":{"key":"TOO-LONG-KEY","value":""}}"#).unwrap_err();
        assert_eq!((e.id, e.code), (7, ErrorCode::BadRequest));
        let e = parse_request(br#"{"id":7,"cmd":"emit","args":{"event_type":1,"payload_hex":"00"}}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadRequest);
        // A name outside the command-name pattern is malformed, not unknown (found by fuzzing).
        for bad_name in [r#""re;oot""#, r#""""#, r#""Ping""#, r#""aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa""#] {
            let text = format!(r#"{{"id":13,"cmd":{bad_name}}}"#);
            let e = parse_request(text.as_bytes()).unwrap_err();
            assert_eq!((e.id, e.code), (13, ErrorCode::BadRequest), "{text}");
        }
    }

    #[test]
    fn duplicate_member_names_are_bad_requests() {
        // Fuzz finding 6: serde_json's Value kept the last duplicate and the node answered.
        for text in [
            r#"{"id":1,"id":1,"cmd":"ping"}"#,
            r#"{"id":1,"cmd":"ping","cmd":"ping"}"#,
            r#"{"id":1,"cmd":"kv","args":{"offset":1,"offset":2}}"#,
            r#"{"id":1,"cmd":"propose","args":{"key":"bay3","value":"1","key":"bay4"}}"#,
            r#"{"id":1,"cmd":"caps","args":{},"args":{}}"#,
        ] {
            let e = parse_request(text.as_bytes()).unwrap_err();
            assert_eq!((e.id, e.code), (0, ErrorCode::BadRequest), "{text}");
            assert!(e.detail.contains("duplicate member name"), "{text}: {}", e.detail);
        }
        // Equal names in different objects are not duplicates.
        let ok = parse_request(br#"{"id":1,"cmd":"kv","args":{"offset":3}}"#).unwrap();
        assert_eq!(ok.command, Command::Kv { offset: 3 });
    }

    #[test]
    fn responses_have_the_envelope_shape() {
        let ok: Value = serde_json::from_slice(&ok_response(3, json!({"a": 1}))).unwrap();
        assert_eq!(ok, json!({"id": 3, "ok": true, "result": {"a": 1}}));
        let err: Value = serde_json::from_slice(&error_response(4, ErrorCode::Locked, "key held")).unwrap();
        assert_eq!(err, json!({"id": 4, "ok": false, "error": "locked", "detail": "key held"}));
    }
}
