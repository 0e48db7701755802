package tcpserver

// Reply encoding. Replies are appended by hand rather than through
// encoding/json so that field order and floats (60.0, not 60) are the
// original's, and the hot path does not allocate.

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/spalloc/spallocd/service"
	"github.com/spalloc/spallocd/service/geometry"
)

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but break JavaScript readers.
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendFloat appends f the way Python's json module writes a float: the
// shortest representation that reads back exactly, always with a decimal
// point or an exponent (60.0, 0.5, 1795725029.061818, 1e+16).
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		// JSON has no such numbers; the service never produces them.
		return append(b, "null"...)
	}
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-4 || abs >= 1e16) {
		return strconv.AppendFloat(b, f, 'e', -1, 64)
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, 'f', -1, 64)
	if bytes.IndexByte(b[start:], '.') < 0 {
		b = append(b, '.', '0')
	}
	return b
}

func appendInt(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) }

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

func appendOptBool(b []byte, v *bool) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	return appendBool(b, *v)
}

// appendTime writes an instant as the protocol has it: Unix seconds.
func appendTime(b []byte, t time.Time) []byte { return appendFloat(b, float64(t.UnixMicro())/1e6) }

func appendOptTime(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	return appendTime(b, *t)
}

// appendOptSeconds writes a span as the protocol has it: seconds.
func appendOptSeconds(b []byte, d *time.Duration) []byte {
	if d == nil {
		return append(b, "null"...)
	}
	return appendFloat(b, d.Seconds())
}

func appendOptString(b []byte, v *string) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	return appendString(b, *v)
}

func appendOptInt(b []byte, v *int64) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	return appendInt(b, *v)
}

func appendPair(b []byte, xy [2]int) []byte {
	b = append(b, '[')
	b = appendInt(b, int64(xy[0]))
	b = append(b, ',')
	b = appendInt(b, int64(xy[1]))
	return append(b, ']')
}

func appendOptPair(b []byte, xy *[2]int) []byte {
	if xy == nil {
		return append(b, "null"...)
	}
	return appendPair(b, *xy)
}

func appendBoard(b []byte, bd geometry.Board) []byte {
	b = append(b, '[')
	b = appendInt(b, int64(bd.X))
	b = append(b, ',')
	b = appendInt(b, int64(bd.Y))
	b = append(b, ',')
	b = appendInt(b, int64(bd.Z))
	return append(b, ']')
}

// appendBoards appends [[x,y,z],...]; a nil list is null.
func appendBoards(b []byte, boards []geometry.Board) []byte {
	if boards == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, bd := range boards {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendBoard(b, bd)
	}
	return append(b, ']')
}

func appendPhysical(b []byte, p service.Physical) []byte {
	b = append(b, '[')
	b = appendInt(b, int64(p.Cabinet))
	b = append(b, ',')
	b = appendInt(b, int64(p.Frame))
	b = append(b, ',')
	b = appendInt(b, int64(p.Board))
	return append(b, ']')
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendRaw appends raw JSON recorded by the service (list_jobs args and
// kwargs), or def when there is none. Raw JSON that does not parse (it never
// should) is replaced by def so that a reply is always valid JSON.
func appendRaw(b []byte, raw json.RawMessage, def string) []byte {
	raw = trimSpace(raw)
	if len(raw) == 0 || validJSON(raw) != nil {
		return append(b, def...)
	}
	return append(b, raw...)
}

// ---- reply bodies (the value of "return") ----

func appendJobState(b []byte, st service.JobStatus) []byte {
	b = append(b, `{"state":`...)
	b = appendInt(b, int64(st.State))
	b = append(b, `,"power":`...)
	b = appendOptBool(b, st.Power)
	b = append(b, `,"keepalive":`...)
	b = appendOptSeconds(b, st.Keepalive)
	b = append(b, `,"reason":`...)
	b = appendOptString(b, st.Reason)
	b = append(b, `,"start_time":`...)
	b = appendOptTime(b, st.StartTime)
	b = append(b, `,"keepalivehost":`...)
	b = appendOptString(b, st.KeepaliveHost)
	return append(b, '}')
}

const nullMachineInfo = `{"width":null,"height":null,"connections":null,"machine_name":null,"boards":null}`

func appendMachineInfo(b []byte, mi *service.JobMachineInfo) []byte {
	if mi == nil {
		return append(b, nullMachineInfo...)
	}
	b = append(b, `{"width":`...)
	b = appendInt(b, int64(mi.Width))
	b = append(b, `,"height":`...)
	b = appendInt(b, int64(mi.Height))
	b = append(b, `,"connections":[`...)
	for i, c := range mi.Connections {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = appendPair(b, [2]int{c.ChipX, c.ChipY})
		b = append(b, ',')
		b = appendString(b, c.Hostname)
		b = append(b, ']')
	}
	b = append(b, `],"machine_name":`...)
	b = appendString(b, mi.MachineName)
	b = append(b, `,"boards":`...)
	if mi.Boards == nil {
		b = append(b, "[]"...)
	} else {
		b = appendBoards(b, mi.Boards)
	}
	return append(b, '}')
}

func appendJobSummary(b []byte, j service.JobSummary) []byte {
	b = append(b, `{"job_id":`...)
	b = appendInt(b, j.ID)
	b = append(b, `,"owner":`...)
	b = appendString(b, j.Owner)
	b = append(b, `,"start_time":`...)
	b = appendTime(b, j.StartTime)
	b = append(b, `,"keepalive":`...)
	b = appendOptSeconds(b, j.Keepalive)
	b = append(b, `,"state":`...)
	b = appendInt(b, int64(j.State))
	b = append(b, `,"power":`...)
	b = appendOptBool(b, j.Power)
	b = append(b, `,"args":`...)
	b = appendRaw(b, j.Args, "[]")
	b = append(b, `,"kwargs":`...)
	b = appendRaw(b, j.Kwargs, "{}")
	b = append(b, `,"allocated_machine_name":`...)
	b = appendOptString(b, j.MachineName)
	b = append(b, `,"boards":`...)
	b = appendBoards(b, j.Boards)
	b = append(b, `,"keepalivehost":`...)
	if j.KeepaliveHost == "" {
		b = append(b, "null"...)
	} else {
		b = appendString(b, j.KeepaliveHost)
	}
	return append(b, '}')
}

func appendMachineSummary(b []byte, m service.MachineSummary) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, m.Name)
	b = append(b, `,"tags":`...)
	b = appendStrings(b, m.Tags)
	b = append(b, `,"width":`...)
	b = appendInt(b, int64(m.Width))
	b = append(b, `,"height":`...)
	b = appendInt(b, int64(m.Height))
	b = append(b, `,"dead_boards":[`...)
	for i, bd := range m.DeadBoards {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendBoard(b, bd)
	}
	b = append(b, `],"dead_links":[`...)
	for i, l := range m.DeadLinks {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = appendInt(b, int64(l.Board.X))
		b = append(b, ',')
		b = appendInt(b, int64(l.Board.Y))
		b = append(b, ',')
		b = appendInt(b, int64(l.Board.Z))
		b = append(b, ',')
		b = appendInt(b, int64(l.Link))
		b = append(b, ']')
	}
	return append(b, "]}"...)
}

func appendWhereIs(b []byte, w *service.WhereIsResult) []byte {
	if w == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"machine":`...)
	b = appendString(b, w.Machine)
	b = append(b, `,"logical":`...)
	b = appendBoard(b, w.Logical)
	b = append(b, `,"physical":`...)
	b = appendPhysical(b, w.Physical)
	b = append(b, `,"chip":`...)
	b = appendPair(b, w.Chip)
	b = append(b, `,"board_chip":`...)
	b = appendPair(b, w.BoardChip)
	b = append(b, `,"job_id":`...)
	b = appendOptInt(b, w.JobID)
	b = append(b, `,"job_chip":`...)
	b = appendOptPair(b, w.JobChip)
	return append(b, '}')
}

// ---- whole lines ----

// appendException appends a complete {"exception": msg} line.
func appendException(b []byte, msg string) []byte {
	b = append(b, `{"exception":`...)
	b = appendString(b, msg)
	return append(b, "}\n"...)
}

// appendJobsChanged appends a complete {"jobs_changed": [...]} line.
func appendJobsChanged(b []byte, ids []int64) []byte {
	b = append(b, `{"jobs_changed":[`...)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendInt(b, id)
	}
	return append(b, "]}\n"...)
}

// appendMachinesChanged appends a complete {"machines_changed": [...]} line.
func appendMachinesChanged(b []byte, names []string) []byte {
	b = append(b, `{"machines_changed":`...)
	b = appendStrings(b, names)
	return append(b, "}\n"...)
}
