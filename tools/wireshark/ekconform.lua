-- Wireshark dissector for EK-ROJ (JSON, UDP 9990), EK-KOR v2 (binary frames, UDP 9991) and the
-- ekconform test-control protocol (JSON, UDP 9992). Field names follow docs/spec/*.md; frame
-- numbers in ekconform reports open straight into these trees.
--
-- Use: wireshark -X lua_script:tools/wireshark/ekconform.lua capture.pcap
--      tshark   -X lua_script:tools/wireshark/ekconform.lua -r capture.pcap
-- Ports can be changed under Preferences > Protocols > EKROJ / EKKOR / EKCTL.

local json_dissector = Dissector.get("json")

---------------------------------------------------------------------------------------------------
-- Small helpers: EK-ROJ and control messages are flat enough that member extraction by pattern is
-- sufficient for display; the full JSON tree comes from Wireshark's own JSON dissector.
---------------------------------------------------------------------------------------------------
local function json_string(text, name)
    return text:match('"' .. name .. '"%s*:%s*"([^"]*)"')
end
local function json_number(text, name)
    local v = text:match('"' .. name .. '"%s*:%s*(%-?%d+)')
    if v then return tonumber(v) end
    return nil
end
local function json_bool(text, name)
    local v = text:match('"' .. name .. '"%s*:%s*(%a+)')
    if v == "true" then return true elseif v == "false" then return false end
    return nil
end
local function json_array_len(text, name)
    local body = text:match('"' .. name .. '"%s*:%s*%[([^%]]*)%]')
    if not body then return nil end
    local n = 0
    for _ in body:gmatch('"[^"]*"') do n = n + 1 end
    return n
end

---------------------------------------------------------------------------------------------------
-- EK-ROJ
---------------------------------------------------------------------------------------------------
local ekroj = Proto("ekroj", "EK-ROJ k-threshold consensus")
local rf = {
    proto    = ProtoField.uint32("ekroj.proto", "Protocol version"),
    type     = ProtoField.string("ekroj.type", "Type"),
    node_id  = ProtoField.string("ekroj.node_id", "Sender node_id"),
    pid      = ProtoField.string("ekroj.pid", "Proposal id"),
    key      = ProtoField.string("ekroj.key", "Key"),
    value    = ProtoField.string("ekroj.value", "Value"),
    version  = ProtoField.uint32("ekroj.version", "Key version"),
    n        = ProtoField.uint32("ekroj.n", "Members (n)"),
    threshold = ProtoField.uint32("ekroj.threshold", "Threshold t(n)"),
    accept   = ProtoField.bool("ekroj.accept", "Accept"),
    reason   = ProtoField.string("ekroj.reason", "Reason"),
    voters   = ProtoField.uint32("ekroj.voters", "Voters counted"),
    module_id = ProtoField.uint32("ekroj.module_id", "Module id"),
    seq      = ProtoField.uint32("ekroj.seq", "ANNOUNCE seq"),
    members  = ProtoField.uint32("ekroj.members", "Members announced"),
}
ekroj.fields = { rf.proto, rf.type, rf.node_id, rf.pid, rf.key, rf.value, rf.version, rf.n,
    rf.threshold, rf.accept, rf.reason, rf.voters, rf.module_id, rf.seq, rf.members }
local ek_bad_json = ProtoExpert.new("ekroj.malformed", "Not an EK-ROJ message (ROJ-WIRE-4)",
    expert.group.MALFORMED, expert.severity.ERROR)
local ek_too_big = ProtoExpert.new("ekroj.oversize", "Datagram over 1400 bytes (ROJ-WIRE-2)",
    expert.group.MALFORMED, expert.severity.ERROR)
ekroj.experts = { ek_bad_json, ek_too_big }
ekroj.prefs.port = Pref.uint("UDP port", 9990, "EK-ROJ UDP port")

-- t(n) = ceil(67n/100) in integers (ROJ-THR-1)
local function threshold(n) return math.floor((67 * n + 99) / 100) end

function ekroj.dissector(tvb, pinfo, tree)
    local len = tvb:len()
    if len == 0 then return 0 end
    pinfo.cols.protocol = "EK-ROJ"
    local text = tvb:raw()
    local t = tree:add(ekroj, tvb(), "EK-ROJ")
    if len > 1400 then t:add_proto_expert_info(ek_too_big) end
    local mtype = json_string(text, "type")
    local node = json_string(text, "node_id")
    if not mtype or not node or text:sub(1, 1) ~= "{" then
        t:add_proto_expert_info(ek_bad_json)
        pinfo.cols.info = "EK-ROJ malformed (" .. len .. " bytes)"
        if json_dissector then json_dissector:call(tvb, pinfo, tree) end
        return len
    end
    local proto = json_number(text, "proto")
    if proto then t:add(rf.proto, proto) end
    t:add(rf.type, mtype)
    t:add(rf.node_id, node)
    local info = mtype .. " from " .. node
    local pid = json_string(text, "pid")
    if pid then t:add(rf.pid, pid); info = info .. " pid=" .. pid end
    local key, value, version = json_string(text, "key"), json_string(text, "value"), json_number(text, "version")
    if key then t:add(rf.key, key) end
    if value then t:add(rf.value, value) end
    if version then t:add(rf.version, version) end
    if key and value then info = info .. " " .. key .. "=" .. value .. (version and (" v" .. version) or "") end
    local n = json_number(text, "n")
    if n then
        t:add(rf.n, n); t:add(rf.threshold, threshold(n)):set_generated()
        info = info .. " n=" .. n .. " t=" .. threshold(n)
    end
    if mtype == "VOTE" then
        local acc, reason = json_bool(text, "accept"), json_string(text, "reason")
        if acc ~= nil then t:add(rf.accept, acc) end
        if reason then t:add(rf.reason, reason); info = info .. " " .. reason end
    elseif mtype == "COMMIT" then
        local nv = json_array_len(text, "voters")
        if nv then t:add(rf.voters, nv); info = info .. " voters=" .. nv end
    elseif mtype == "ABORT" then
        local reason = json_string(text, "reason")
        if reason then t:add(rf.reason, reason); info = info .. " " .. reason end
    elseif mtype == "ANNOUNCE" then
        local m, s, nm = json_number(text, "module_id"), json_number(text, "seq"), json_array_len(text, "members")
        if m then t:add(rf.module_id, m) end
        if s then t:add(rf.seq, s); info = info .. " seq=" .. s end
        if nm then t:add(rf.members, nm); info = info .. " members=" .. nm end
    end
    pinfo.cols.info = info
    if json_dissector then json_dissector:call(tvb, pinfo, tree) end
    return len
end

---------------------------------------------------------------------------------------------------
-- EK-KOR v2 (docs/spec/ek-kor.md): little-endian, one frame per datagram, <= 64 bytes.
---------------------------------------------------------------------------------------------------
local ekkor = Proto("ekkor", "EK-KOR v2 gossip")
local msg_types = { [0x60] = "EVENT_GOSSIP", [0x61] = "EVENT_ACK", [0x62] = "EVENT_REQUEST", [0x63] = "VV_SYNC" }
local event_types = { [0x01] = "STATE_TRANSITION", [0x02] = "FIELD_PUBLISHED", [0x03] = "NEIGHBOR_JOINED",
    [0x04] = "NEIGHBOR_LEFT", [0x05] = "CONSENSUS_START", [0x06] = "CONSENSUS_VOTE", [0x07] = "CONSENSUS_RESULT" }
local kf = {
    msg_type    = ProtoField.uint8("ekkor.msg_type", "Message type", base.HEX, msg_types),
    source      = ProtoField.uint8("ekkor.source_module", "Source module"),
    event_count = ProtoField.uint8("ekkor.event_count", "Event count"),
    vv_count    = ProtoField.uint8("ekkor.vv_summary.count", "VV origins"),
    vv_sum      = ProtoField.uint32("ekkor.vv_summary.sum", "VV sum"),
    vv_crc      = ProtoField.uint16("ekkor.vv_summary.crc", "VV CRC-16", base.HEX),
    sequence    = ProtoField.uint32("ekkor.event.sequence", "Sequence"),
    timestamp   = ProtoField.uint32("ekkor.event.timestamp_us", "Timestamp (us)"),
    event_type  = ProtoField.uint8("ekkor.event.type", "Event type", base.HEX, event_types),
    flags       = ProtoField.uint8("ekkor.event.flags", "Flags", base.HEX),
    repair      = ProtoField.bool("ekkor.event.flags.repair", "REPAIR", 8, nil, 0x01),
    origin      = ProtoField.uint8("ekkor.event.origin_id", "Origin"),
    hop         = ProtoField.uint8("ekkor.event.hop_count", "Hop count"),
    origin_seq  = ProtoField.uint32("ekkor.event.origin_seq", "Origin seq"),
    payload     = ProtoField.bytes("ekkor.event.payload", "Payload"),
    cr_key      = ProtoField.string("ekkor.result.key", "Committed key"),
    cr_value    = ProtoField.string("ekkor.result.value", "Committed value"),
    cr_version  = ProtoField.uint32("ekkor.result.version", "Committed version"),
    field_id    = ProtoField.uint8("ekkor.field.id", "Field id"),
    ack_count   = ProtoField.uint8("ekkor.ack.count", "Ack count"),
    ack_origin  = ProtoField.uint8("ekkor.ack.origin_id", "Acked origin"),
    ack_seq     = ProtoField.uint32("ekkor.ack.origin_seq", "Acked origin seq"),
    req_origin  = ProtoField.uint8("ekkor.request.target_origin", "Target origin"),
    req_from    = ProtoField.uint32("ekkor.request.from_seq", "From seq"),
    req_to      = ProtoField.uint32("ekkor.request.to_seq", "To seq"),
    sync_lo     = ProtoField.uint8("ekkor.sync.lo", "Range low origin"),
    sync_hi     = ProtoField.uint8("ekkor.sync.hi", "Range high origin"),
    sync_count  = ProtoField.uint8("ekkor.sync.count", "Entries"),
    sync_origin = ProtoField.uint8("ekkor.sync.origin_id", "Origin"),
    sync_seq    = ProtoField.uint32("ekkor.sync.seq", "Seq"),
}
ekkor.fields = {}
for _, f in pairs(kf) do table.insert(ekkor.fields, f) end
local kx_len = ProtoExpert.new("ekkor.bad_length", "Frame length does not match its type (KOR-FRAME-3)",
    expert.group.MALFORMED, expert.severity.ERROR)
local kx_big = ProtoExpert.new("ekkor.oversize", "Frame over 64 bytes (KOR-WIRE-2)",
    expert.group.MALFORMED, expert.severity.ERROR)
local kx_type = ProtoExpert.new("ekkor.bad_type", "Unknown message type (KOR-FRAME-1)",
    expert.group.MALFORMED, expert.severity.ERROR)
ekkor.experts = { kx_len, kx_big, kx_type }
ekkor.prefs.port = Pref.uint("UDP port", 9991, "EK-KOR UDP port")

local function cstr(tvb_range)
    local s = tvb_range:raw()
    local z = s:find("\0", 1, true)
    if z then s = s:sub(1, z - 1) end
    return s
end

local function add_event(tvb, off, tree)
    local e = tree:add(ekkor, tvb(off, 36), "Event")
    e:add_le(kf.sequence, tvb(off, 4))
    e:add_le(kf.timestamp, tvb(off + 4, 4))
    e:add(kf.event_type, tvb(off + 8, 1))
    local fl = e:add(kf.flags, tvb(off + 9, 1))
    fl:add(kf.repair, tvb(off + 9, 1))
    e:add(kf.origin, tvb(off + 10, 1))
    e:add(kf.hop, tvb(off + 11, 1))
    e:add_le(kf.origin_seq, tvb(off + 12, 4))
    local p = e:add(kf.payload, tvb(off + 16, 20))
    local et = tvb(off + 8, 1):uint()
    if et == 0x07 then
        p:add(kf.cr_key, tvb(off + 16, 8), cstr(tvb(off + 16, 8)))
        p:add(kf.cr_value, tvb(off + 24, 8), cstr(tvb(off + 24, 8)))
        p:add_le(kf.cr_version, tvb(off + 32, 4))
    elseif et == 0x02 then
        p:add(kf.field_id, tvb(off + 16, 1))
    end
    local name = event_types[et] or (et >= 0x80 and "USER_DEFINED" or "RESERVED")
    local flags = tvb(off + 9, 1):uint()
    return string.format("(%d,%d) %s hop=%d%s", tvb(off + 10, 1):uint(), tvb(off + 12, 4):le_uint(),
        name, tvb(off + 11, 1):uint(), (bit.band(flags, 1) ~= 0) and " REPAIR" or "")
end

function ekkor.dissector(tvb, pinfo, tree)
    local len = tvb:len()
    if len < 2 then return 0 end
    pinfo.cols.protocol = "EK-KOR"
    local t = tree:add(ekkor, tvb(), "EK-KOR v2")
    if len > 64 then t:add_proto_expert_info(kx_big) end
    local mt = tvb(0, 1):uint()
    t:add(kf.msg_type, tvb(0, 1))
    t:add(kf.source, tvb(1, 1))
    local src = tvb(1, 1):uint()
    local name = msg_types[mt]
    if not name then
        t:add_proto_expert_info(kx_type)
        pinfo.cols.info = string.format("EK-KOR unknown type 0x%02x from %d", mt, src)
        return len
    end
    local info = name .. " from " .. src
    if mt == 0x60 then
        if len ~= 46 then t:add_proto_expert_info(kx_len) else
            t:add(kf.event_count, tvb(2, 1))
            local s = t:add(ekkor, tvb(3, 7), "VV summary")
            s:add(kf.vv_count, tvb(3, 1)); s:add_le(kf.vv_sum, tvb(4, 4)); s:add_le(kf.vv_crc, tvb(8, 2))
            info = info .. " " .. add_event(tvb, 10, t)
        end
    elseif mt == 0x61 then
        local c = len >= 3 and tvb(2, 1):uint() or 0
        if c < 1 or c > 4 or len ~= 3 + 5 * c then t:add_proto_expert_info(kx_len) else
            t:add(kf.ack_count, tvb(2, 1))
            local parts = {}
            for i = 0, c - 1 do
                t:add(kf.ack_origin, tvb(3 + 5 * i, 1)); t:add_le(kf.ack_seq, tvb(4 + 5 * i, 4))
                table.insert(parts, string.format("(%d,%d)", tvb(3 + 5 * i, 1):uint(), tvb(4 + 5 * i, 4):le_uint()))
            end
            info = info .. " " .. table.concat(parts, " ")
        end
    elseif mt == 0x62 then
        if len ~= 12 then t:add_proto_expert_info(kx_len) else
            t:add(kf.req_origin, tvb(2, 1)); t:add_le(kf.req_from, tvb(4, 4)); t:add_le(kf.req_to, tvb(8, 4))
            info = info .. string.format(" origin=%d [%d..%d]", tvb(2, 1):uint(), tvb(4, 4):le_uint(), tvb(8, 4):le_uint())
        end
    elseif mt == 0x63 then
        local c = len >= 5 and tvb(4, 1):uint() or 0
        if len < 5 or c > 11 or len ~= 5 + 5 * c then t:add_proto_expert_info(kx_len) else
            t:add(kf.sync_lo, tvb(2, 1)); t:add(kf.sync_hi, tvb(3, 1)); t:add(kf.sync_count, tvb(4, 1))
            local parts = {}
            for i = 0, c - 1 do
                t:add(kf.sync_origin, tvb(5 + 5 * i, 1)); t:add_le(kf.sync_seq, tvb(6 + 5 * i, 4))
                table.insert(parts, string.format("%d:%d", tvb(5 + 5 * i, 1):uint(), tvb(6 + 5 * i, 4):le_uint()))
            end
            info = info .. string.format(" [%d..%d] {%s}", tvb(2, 1):uint(), tvb(3, 1):uint(), table.concat(parts, ","))
        end
    end
    pinfo.cols.info = info
    return len
end

---------------------------------------------------------------------------------------------------
-- Test control (docs/spec/control.md)
---------------------------------------------------------------------------------------------------
local ekctl = Proto("ekctl", "ekconform test control")
local cf = {
    id    = ProtoField.uint32("ekctl.id", "Request id"),
    cmd   = ProtoField.string("ekctl.cmd", "Command"),
    ok    = ProtoField.bool("ekctl.ok", "Ok"),
    error = ProtoField.string("ekctl.error", "Error"),
}
ekctl.fields = { cf.id, cf.cmd, cf.ok, cf.error }
ekctl.prefs.port = Pref.uint("UDP port", 9992, "Control UDP port")

function ekctl.dissector(tvb, pinfo, tree)
    local len = tvb:len()
    if len == 0 then return 0 end
    pinfo.cols.protocol = "EK-CTL"
    local text = tvb:raw()
    local t = tree:add(ekctl, tvb(), "ekconform control")
    local id = json_number(text, "id")
    if id then t:add(cf.id, id) end
    local cmd = json_string(text, "cmd")
    local info
    if cmd then
        t:add(cf.cmd, cmd); info = "request " .. cmd
    else
        local ok = json_bool(text, "ok")
        if ok ~= nil then t:add(cf.ok, ok) end
        local err = json_string(text, "error")
        if err then t:add(cf.error, err) end
        info = "response" .. ((ok == false and err) and (" error=" .. err) or "")
    end
    pinfo.cols.info = info .. (id and (" id=" .. id) or "")
    if json_dissector then json_dissector:call(tvb, pinfo, tree) end
    return len
end

local udp_table = DissectorTable.get("udp.port")
local registered = {}
local function register_ports()
    for proto, port in pairs(registered) do udp_table:remove(port, proto) end
    registered = { [ekroj] = ekroj.prefs.port, [ekkor] = ekkor.prefs.port, [ekctl] = ekctl.prefs.port }
    for proto, port in pairs(registered) do udp_table:add(port, proto) end
end
ekroj.prefs_changed = register_ports
ekkor.prefs_changed = register_ports
ekctl.prefs_changed = register_ports
register_ports()
