package eventsim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
)

// song is one catalogue entry; enc is its pre-encoded JSON tail:
// "artist":"...","song":"...","length":123.45678}
type song struct {
	artist, title string
	length        float64
	enc           []byte
}

const catalogSize = 24000

var (
	catalogOnce sync.Once
	catalog     []song
	// nullSong is the tail of every non-NextSong row.
	nullSong = []byte(`"artist":null,"song":null,"length":null}` + "\n")
)

// songs returns the catalogue, built once from a fixed seed: it is the same
// for every Config.Seed, like eventsim's song file. Entries are ordered by
// popularity (pickSong favours low indices).
func songs() []song {
	catalogOnce.Do(func() {
		r := rand.New(rand.NewPCG(0x5eed, 0xca7a106))
		nArtists := catalogSize / 6
		names := make([]string, 0, nArtists)
		names = append(names, artists...)
		for len(names) < nArtists {
			var n string
			switch r.IntN(3) {
			case 0:
				n = "The " + pick(r, bandAdjectives) + " " + pick(r, bandWords)
			case 1:
				n = pick(r, firstNamesF) + " " + pick(r, lastNames)
			default:
				n = pick(r, firstNamesM) + " " + pick(r, lastNames) + " & The " + pick(r, bandWords)
			}
			names = append(names, n)
		}
		catalog = make([]song, catalogSize)
		for i := range catalog {
			// Popular songs come from the first (famous) artists more often.
			a := names[int(float64(len(names))*math.Pow(r.Float64(), 1.6))]
			form := pick(r, titleForms)
			var t string
			switch countVerbs(form) {
			case 1:
				t = fmt.Sprintf(form, pick(r, titleWords))
			default:
				t = fmt.Sprintf(form, pick(r, titleWords), pick(r, titleWords))
			}
			l := 240 * math.Exp(0.35*r.NormFloat64())
			l = math.Round(min(max(l, 15), 3000)*1e5) / 1e5
			s := song{artist: a, title: t, length: l}
			b := append([]byte(nil), `"artist":`...)
			b = appendString(b, a)
			b = append(b, `,"song":`...)
			b = appendString(b, t)
			b = append(b, `,"length":`...)
			b = strconv.AppendFloat(b, l, 'f', -1, 64)
			b = append(b, "}\n"...)
			s.enc = b
			catalog[i] = s
		}
	})
	return catalog
}

func countVerbs(form string) int {
	n := 0
	for i := 0; i+1 < len(form); i++ {
		if form[i] == '%' && form[i+1] == 's' {
			n++
		}
	}
	return n
}

func pick(r *rand.Rand, xs []string) string { return xs[r.IntN(len(xs))] }

// pickSong draws a catalogue index with a long-tailed popularity: index i has
// probability about 1/(2*sqrt(i*N)).
func pickSong(r *rand.Rand) int32 {
	u := r.Float64()
	return int32(float64(catalogSize) * u * u)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string (quotes included). Control
// characters, '"' and '\\' are escaped; other bytes, including invalid UTF-8,
// are copied as they are (bad lines rely on that).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
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
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
