package acl

import (
	"fmt"
	"strconv"
	"time"
)

// timeConvs format dates (configuration.txt §7.3.1): ltime and utime with
// strftime(3) formats in local time and UTC, http_date as HTTP's
// IMF-fixdate.
func timeConvs() []*convDef {
	return []*convDef{
		{name: "ltime", minArgs: 1, maxArgs: 2, out: KStr, compile: compileTimeOffset, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			return strftimeConv(c, cv, v, time.Local)
		}},
		{name: "utime", minArgs: 1, maxArgs: 2, out: KStr, compile: compileTimeOffset, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			return strftimeConv(c, cv, v, time.UTC)
		}},
		// http_date([offset],[unit]): the input is seconds (or ms / us)
		// since the epoch; the offset is in the same unit.
		{name: "http_date", maxArgs: 2, out: KStr, compile: compileDateUnit, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			n, ok := v.asInt()
			if !ok {
				return Value{}, false
			}
			n += cv.num
			var t time.Time
			switch cv.num2 {
			case 1000:
				t = time.UnixMilli(n)
			case 1000000:
				t = time.UnixMicro(n)
			default:
				t = time.Unix(n, 0)
			}
			// sub-second units print their fraction, as HAProxy 2.6.12
			layout := "Mon, 02 Jan 2006 15:04:05 GMT"
			switch cv.num2 {
			case 1000:
				layout = "Mon, 02 Jan 2006 15:04:05.000 GMT"
			case 1000000:
				layout = "Mon, 02 Jan 2006 15:04:05.000000 GMT"
			}
			buf := t.UTC().AppendFormat(c.scratchBuf(), layout)
			c.keepScratch(buf)
			return strVal(buf), true
		}},
	}
}

func compileTimeOffset(cv *conv, o *Options) error {
	if len(cv.args) > 1 && cv.args[1] != "" {
		n, err := strconv.ParseInt(cv.args[1], 10, 64)
		if err != nil {
			return fmt.Errorf("expects an integer offset, got '%s'", cv.args[1])
		}
		cv.num = n
	}
	return nil
}

func compileDateUnit(cv *conv, o *Options) error {
	if len(cv.args) > 0 && cv.args[0] != "" {
		n, err := strconv.ParseInt(cv.args[0], 10, 64)
		if err != nil {
			return fmt.Errorf("expects an integer offset, got '%s'", cv.args[0])
		}
		cv.num = n
	}
	cv.num2 = 1
	if len(cv.args) > 1 {
		switch cv.args[1] {
		case "s", "":
		case "ms":
			cv.num2 = 1000
		case "us":
			cv.num2 = 1000000
		default:
			return fmt.Errorf("unexpected unit '%s': expects 's', 'ms' or 'us'", cv.args[1])
		}
	}
	return nil
}

func strftimeConv(c *Ctx, cv *conv, v Value, loc *time.Location) (Value, bool) {
	n, ok := v.asInt()
	if !ok {
		return Value{}, false
	}
	t := time.Unix(n+cv.num, 0).In(loc)
	buf := strftime(c.scratchBuf(), cv.args[0], t)
	c.keepScratch(buf)
	return strVal(buf), true
}

var (
	wdays  = [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	months = [...]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
)

func pad(dst []byte, n, width int, fill byte) []byte {
	s := strconv.Itoa(n)
	for i := len(s); i < width; i++ {
		dst = append(dst, fill)
	}
	return append(dst, s...)
}

// strftime renders format as strftime(3) does in the C locale.
func strftime(dst []byte, format string, t time.Time) []byte {
	for i := 0; i < len(format); i++ {
		ch := format[i]
		if ch != '%' || i+1 == len(format) {
			dst = append(dst, ch)
			continue
		}
		i++
		// E and O modifiers change nothing in the C locale.
		if (format[i] == 'E' || format[i] == 'O') && i+1 < len(format) {
			i++
		}
		switch format[i] {
		case 'a':
			dst = append(dst, wdays[t.Weekday()][:3]...)
		case 'A':
			dst = append(dst, wdays[t.Weekday()]...)
		case 'b', 'h':
			dst = append(dst, months[t.Month()-1][:3]...)
		case 'B':
			dst = append(dst, months[t.Month()-1]...)
		case 'c':
			dst = strftime(dst, "%a %b %e %H:%M:%S %Y", t)
		case 'C':
			dst = pad(dst, t.Year()/100, 2, '0')
		case 'd':
			dst = pad(dst, t.Day(), 2, '0')
		case 'D':
			dst = strftime(dst, "%m/%d/%y", t)
		case 'e':
			dst = pad(dst, t.Day(), 2, ' ')
		case 'F':
			dst = strftime(dst, "%Y-%m-%d", t)
		case 'g':
			y, _ := t.ISOWeek()
			dst = pad(dst, y%100, 2, '0')
		case 'G':
			y, _ := t.ISOWeek()
			dst = strconv.AppendInt(dst, int64(y), 10)
		case 'H':
			dst = pad(dst, t.Hour(), 2, '0')
		case 'I':
			dst = pad(dst, (t.Hour()+11)%12+1, 2, '0')
		case 'j':
			dst = pad(dst, t.YearDay(), 3, '0')
		case 'k':
			dst = pad(dst, t.Hour(), 2, ' ')
		case 'l':
			dst = pad(dst, (t.Hour()+11)%12+1, 2, ' ')
		case 'm':
			dst = pad(dst, int(t.Month()), 2, '0')
		case 'M':
			dst = pad(dst, t.Minute(), 2, '0')
		case 'n':
			dst = append(dst, '\n')
		case 'p':
			if t.Hour() < 12 {
				dst = append(dst, "AM"...)
			} else {
				dst = append(dst, "PM"...)
			}
		case 'P':
			if t.Hour() < 12 {
				dst = append(dst, "am"...)
			} else {
				dst = append(dst, "pm"...)
			}
		case 'r':
			dst = strftime(dst, "%I:%M:%S %p", t)
		case 'R':
			dst = strftime(dst, "%H:%M", t)
		case 's':
			dst = strconv.AppendInt(dst, t.Unix(), 10)
		case 'S':
			dst = pad(dst, t.Second(), 2, '0')
		case 't':
			dst = append(dst, '\t')
		case 'T':
			dst = strftime(dst, "%H:%M:%S", t)
		case 'u':
			dst = pad(dst, (int(t.Weekday())+6)%7+1, 1, '0')
		case 'U':
			dst = pad(dst, (t.YearDay()+6-int(t.Weekday()))/7, 2, '0')
		case 'V':
			_, w := t.ISOWeek()
			dst = pad(dst, w, 2, '0')
		case 'w':
			dst = pad(dst, int(t.Weekday()), 1, '0')
		case 'W':
			dst = pad(dst, (t.YearDay()+6-(int(t.Weekday())+6)%7)/7, 2, '0')
		case 'x':
			dst = strftime(dst, "%m/%d/%y", t)
		case 'X':
			dst = strftime(dst, "%H:%M:%S", t)
		case 'y':
			dst = pad(dst, t.Year()%100, 2, '0')
		case 'Y':
			dst = strconv.AppendInt(dst, int64(t.Year()), 10)
		case 'z':
			_, off := t.Zone()
			sign := byte('+')
			if off < 0 {
				sign, off = '-', -off
			}
			dst = append(dst, sign)
			dst = pad(dst, off/3600, 2, '0')
			dst = pad(dst, off%3600/60, 2, '0')
		case 'Z':
			name, _ := t.Zone()
			dst = append(dst, name...)
		case '%':
			dst = append(dst, '%')
		default:
			dst = append(dst, '%', format[i])
		}
	}
	return dst
}
