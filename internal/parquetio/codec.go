package parquetio

import (
	"github.com/klauspost/compress/s2"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/format"
)

// Snappy is the SNAPPY codec with klauspost's fast block encoder. The
// files are standard Snappy (any reader decodes them); parquet-go's own
// snappy codec uses the "better" encoder, which here costs about twice the
// CPU for a few percent smaller pages.
type Snappy struct{}

var _ compress.Codec = Snappy{}

// String returns the codec's name.
func (Snappy) String() string { return "SNAPPY" }

// CompressionCodec returns the Parquet codec id.
func (Snappy) CompressionCodec() format.CompressionCodec { return format.Snappy }

// Encode compresses src into dst (grown when too small).
func (Snappy) Encode(dst, src []byte) ([]byte, error) {
	return s2.EncodeSnappy(dst[:cap(dst)], src), nil
}

// Decode decompresses src into dst (grown when too small).
func (Snappy) Decode(dst, src []byte) ([]byte, error) {
	n, err := s2.DecodedLen(src)
	if err != nil {
		return dst[:0], err
	}
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	return s2.Decode(dst[:n], src)
}
