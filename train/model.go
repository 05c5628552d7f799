package train

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/churnctl/churnctl/internal/errkind"
)

// FormatVersion is the model file format version this package writes. It
// reads it and every older version (FORMAT.md, "Versions").
const FormatVersion = 3

var magic = [8]byte{'C', 'H', 'U', 'R', 'N', 'R', 'F', '\n'}

// FeatureSpec names one model input, in order.
type FeatureSpec struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// InputFile is one training data file and its content hash.
type InputFile struct {
	Name   string `json:"name"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Header is the JSON part of a model file: everything but the trees.
type Header struct {
	Format          string        `json:"format"` // "churnctl-random-forest"
	FormatVersion   int           `json:"format_version"`
	ChurnctlVersion string        `json:"churnctl_version"`
	Params          Params        `json:"params"`
	Seed            uint64        `json:"seed"`
	Features        []FeatureSpec `json:"features"`
	Label           string        `json:"label"`
	ID              string        `json:"id"`
	// Threshold is the decision threshold on the calibrated probability
	// (p_churn >= Threshold is predicted churn); ThresholdRaw is the same
	// threshold on the forest's raw probability, where it was tuned (absent
	// before format 3, and equal to Threshold without calibration).
	Threshold     float64 `json:"threshold"`
	ThresholdRaw  float64 `json:"threshold_raw"`
	ThresholdRule string  `json:"threshold_rule"`
	// Calibration maps the forest's raw probability to the calibrated
	// p_churn (nil: none; always nil before format 3).
	Calibration *Calibrator `json:"calibration,omitempty"`
	// Training data: row counts and the manifest hash of the input files
	// (sha256 of the sorted per-file sha256 lines).
	Rows       int         `json:"rows"`
	Positives  int         `json:"positives"`
	DataSHA256 string      `json:"data_sha256"`
	Inputs     []InputFile `json:"inputs"`
	// TrainingRows are the (cutoff, id) rows of the final fit; nil in
	// models written before churnctl recorded them.
	TrainingRows *TrainingRows `json:"training_rows,omitempty"`
	// Figures from training, all deterministic for a given input and seed.
	CV         *CVMetrics         `json:"cv,omitempty"`
	OOB        *OOBMetrics        `json:"oob,omitempty"`
	Importance map[string]float64 `json:"impurity_importance"`
	Search     []SearchTrial      `json:"search,omitempty"`
	Trees      int                `json:"trees"`
	Nodes      int                `json:"nodes"`
}

// OOBMetrics are out-of-bag figures of the final fit.
type OOBMetrics struct {
	Rows   int     `json:"rows"`
	F1     float64 `json:"f1"`
	ROCAUC float64 `json:"roc_auc"`
}

// Model is a forest and its header.
type Model struct {
	Header
	Forest *Forest
}

// PredictProba returns the calibrated churn probability (p_churn) of every
// row: the forest's raw probability mapped by the model's calibration.
func (m *Model) PredictProba(d *Dataset, jobs int) []float64 {
	raw := m.Forest.PredictProba(d, jobs)
	if m.Calibration == nil {
		return raw
	}
	return m.Calibration.ApplyAll(raw)
}

// FeatureNames returns the model's input names in order.
func (m *Model) FeatureNames() []string {
	n := make([]string, len(m.Features))
	for i, f := range m.Features {
		n[i] = f.Name
	}
	return n
}

// WriteTo writes the model file (format in FORMAT.md): magic, version,
// header length and JSON header, the trees in little-endian binary, and a
// SHA-256 of everything before it.
func (m *Model) WriteTo(w io.Writer) (int64, error) {
	h := m.Header
	h.Format = "churnctl-random-forest"
	h.FormatVersion = FormatVersion
	h.Trees = len(m.Forest.Trees)
	h.Nodes = 0
	for _, t := range m.Forest.Trees {
		h.Nodes += len(t.Feature)
	}
	hj, err := json.Marshal(h)
	if err != nil {
		return 0, err
	}
	var buf bytes.Buffer
	buf.Write(magic[:])
	le := binary.LittleEndian
	buf.Write(le.AppendUint32(nil, FormatVersion))
	buf.Write(le.AppendUint32(nil, uint32(len(hj))))
	buf.Write(hj)
	buf.Write(le.AppendUint32(nil, uint32(m.Forest.NFeatures)))
	buf.Write(le.AppendUint32(nil, uint32(len(m.Forest.Trees))))
	var b []byte
	for _, t := range m.Forest.Trees {
		b = le.AppendUint32(b[:0], uint32(len(t.Feature)))
		for i, f := range t.Feature {
			b = le.AppendUint32(b, uint32(f))
			b = le.AppendUint64(b, math.Float64bits(t.Threshold[i]))
			if f >= 0 {
				b = le.AppendUint32(b, uint32(t.Right[i]))
			}
		}
		buf.Write(b)
	}
	sum := sha256.Sum256(buf.Bytes())
	buf.Write(sum[:])
	n, err := w.Write(buf.Bytes())
	return int64(n), err
}

// Read parses a model file. Errors wrap errkind.BadInput.
func Read(r io.Reader) (*Model, error) {
	data, err := io.ReadAll(bufio.NewReader(r))
	if err != nil {
		return nil, err
	}
	bad := func(f string, a ...any) error {
		return fmt.Errorf("%w: model file: %s", errkind.BadInput, fmt.Sprintf(f, a...))
	}
	if len(data) < 8+8+32 || !bytes.Equal(data[:8], magic[:]) {
		return nil, bad("not a churnctl model (bad magic)")
	}
	body, sum := data[:len(data)-32], data[len(data)-32:]
	if s := sha256.Sum256(body); !bytes.Equal(s[:], sum) {
		return nil, bad("checksum mismatch (file truncated or corrupted)")
	}
	le := binary.LittleEndian
	p := body[8:]
	u32 := func() (uint32, error) {
		if len(p) < 4 {
			return 0, errors.New("short")
		}
		v := le.Uint32(p)
		p = p[4:]
		return v, nil
	}
	ver, _ := u32()
	if ver < 1 || ver > FormatVersion {
		return nil, bad("format version %d; this churnctl reads versions 1 to %d", ver, FormatVersion)
	}
	hl, err := u32()
	if err != nil || int(hl) > len(p) {
		return nil, bad("truncated header")
	}
	m := &Model{}
	if err := json.Unmarshal(p[:hl], &m.Header); err != nil {
		return nil, bad("header: %v", err)
	}
	if ver == 1 && m.CV != nil {
		// version 1's cv_f1_tuned was tuned and scored on the same
		// out-of-fold probabilities: the optimistic figure; it had no
		// nested one
		m.CV.F1TunedOptimistic, m.CV.F1Tuned = m.CV.F1Tuned, 0
	}
	if ver < 3 {
		// no calibration: the raw probability is p_churn
		m.Calibration, m.ThresholdRaw = nil, m.Threshold
	}
	if err := m.Calibration.check(); err != nil {
		return nil, bad("header: %v", err)
	}
	m.FormatVersion = int(ver)
	p = p[hl:]
	nf, err1 := u32()
	nt, err2 := u32()
	if err1 != nil || err2 != nil {
		return nil, bad("truncated trees")
	}
	f := &Forest{NFeatures: int(nf), Trees: make([]Tree, nt)}
	for t := range f.Trees {
		nn, err := u32()
		if err != nil || int(nn) > len(p)/12 {
			return nil, bad("truncated tree %d", t)
		}
		tr := Tree{Feature: make([]int32, nn), Threshold: make([]float64, nn), Right: make([]int32, nn)}
		for i := range int(nn) {
			if len(p) < 12 {
				return nil, bad("truncated tree %d", t)
			}
			ft := int32(le.Uint32(p))
			tr.Feature[i] = ft
			tr.Threshold[i] = math.Float64frombits(le.Uint64(p[4:]))
			p = p[12:]
			tr.Right[i] = -1
			if ft >= 0 {
				r, err := u32()
				if err != nil || int(ft) >= int(nf) || int(r) <= i+1 || int(r) >= int(nn) {
					return nil, bad("tree %d node %d: bad link", t, i)
				}
				tr.Right[i] = int32(r)
			}
		}
		f.Trees[t] = tr
	}
	if len(p) != 0 {
		return nil, bad("%d trailing bytes", len(p))
	}
	if len(m.Features) != int(nf) {
		return nil, bad("header lists %d features, trees use %d", len(m.Features), nf)
	}
	f.Importance = make([]float64, nf)
	for i, fs := range m.Features {
		f.Importance[i] = m.Importance[fs.Name]
	}
	m.Forest = f
	return m, nil
}

// Save writes the model to path atomically (temp file + rename).
func (m *Model) Save(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".model-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	if _, err := m.WriteTo(w); err != nil {
		tmp.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Load reads a model file.
func Load(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errkind.BadInput, err)
	}
	defer f.Close()
	m, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}
