// Package lakefixture writes small synthetic lake partitions (gold,
// features, predictions, model registry, run records) in the column layout
// the warehouse loader reads, for tests and benchmarks. Same arguments, same
// bytes.
package lakefixture

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/parquet-go/parquet-go"
)

// FactUserDay is a row of gold/fact_user_day.
type FactUserDay struct {
	UserID                    string    `parquet:"user_id"`
	Dt                        int32     `parquet:"dt,date"` // days since 1970-01-01
	NEvents                   int32     `parquet:"n_events"`
	NSessions                 int32     `parquet:"n_sessions"`
	NNextSong                 int32     `parquet:"n_next_song"`
	NHome                     int32     `parquet:"n_home"`
	NThumbsUp                 int32     `parquet:"n_thumbs_up"`
	NThumbsDown               int32     `parquet:"n_thumbs_down"`
	NAddToPlaylist            int32     `parquet:"n_add_to_playlist"`
	NAddFriend                int32     `parquet:"n_add_friend"`
	NRollAdvert               int32     `parquet:"n_roll_advert"`
	NLogout                   int32     `parquet:"n_logout"`
	NSettings                 int32     `parquet:"n_settings"`
	NSaveSettings             int32     `parquet:"n_save_settings"`
	NHelp                     int32     `parquet:"n_help"`
	NAbout                    int32     `parquet:"n_about"`
	NError                    int32     `parquet:"n_error"`
	NUpgrade                  int32     `parquet:"n_upgrade"`
	NDowngrade                int32     `parquet:"n_downgrade"`
	NSubmitUpgrade            int32     `parquet:"n_submit_upgrade"`
	NSubmitDowngrade          int32     `parquet:"n_submit_downgrade"`
	NCancel                   int32     `parquet:"n_cancel"`
	NCancellationConfirmation int32     `parquet:"n_cancellation_confirmation"`
	NOther                    int32     `parquet:"n_other"`
	Songs                     int32     `parquet:"songs"`
	ListenSeconds             float64   `parquet:"listen_seconds"`
	DistinctArtists           int32     `parquet:"distinct_artists"`
	LevelEnd                  *string   `parquet:"level_end,optional"`
	FirstTS                   time.Time `parquet:"first_ts,timestamp(millisecond)"`
	LastTS                    time.Time `parquet:"last_ts,timestamp(millisecond)"`
	NPaidEvents               int32     `parquet:"n_paid_events"`
	ArtistSketch              []byte    `parquet:"artist_sketch"` // not loaded (ignored column)
}

// FactSession is a row of gold/fact_session.
type FactSession struct {
	UserID        string    `parquet:"user_id"`
	SessionID     int64     `parquet:"session_id"`
	SessionStart  time.Time `parquet:"session_start,timestamp(millisecond)"`
	SessionEnd    time.Time `parquet:"session_end,timestamp(millisecond)"`
	DurationS     float64   `parquet:"duration_s"`
	Items         int32     `parquet:"items"`
	Songs         int32     `parquet:"songs"`
	ListenSeconds float64   `parquet:"listen_seconds"`
	Dt            int32     `parquet:"dt,date"`
}

// DimUser is a row of gold/dim_user.
type DimUser struct {
	UserID       string     `parquet:"user_id"`
	ValidFrom    time.Time  `parquet:"valid_from,timestamp(millisecond)"`
	ValidTo      *time.Time `parquet:"valid_to,timestamp(millisecond),optional"`
	IsCurrent    bool       `parquet:"is_current"`
	Level        *string    `parquet:"level,optional"`
	Registration *time.Time `parquet:"registration,timestamp(millisecond),optional"`
	Gender       *string    `parquet:"gender,optional"`
	Location     *string    `parquet:"location,optional"`
	UserAgent    *string    `parquet:"user_agent,optional"`
	FirstName    *string    `parquet:"first_name,optional"`
	LastName     *string    `parquet:"last_name,optional"`
}

// DimDate is a row of gold/dim_date.
type DimDate struct {
	Dt        int32 `parquet:"dt,date"`
	Year      int32 `parquet:"year"`
	Quarter   int32 `parquet:"quarter"`
	Month     int32 `parquet:"month"`
	Day       int32 `parquet:"day"`
	ISOWeek   int32 `parquet:"iso_week"`
	DayOfWeek int32 `parquet:"day_of_week"`
	IsWeekend bool  `parquet:"is_weekend"`
}

// DimPage is a row of gold/dim_page.
type DimPage struct {
	Page     string  `parquet:"page"`
	PageID   int32   `parquet:"page_id"`
	Category *string `parquet:"page_group,optional"`
}

// Feature is a row of features/as_of=D (as_of comes from the directory; the
// label is called churn, as features/table expects by default).
type Feature struct {
	UserID          string   `parquet:"user_id"`
	Label           *int32   `parquet:"churn,optional"`
	Level           string   `parquet:"level"`
	DaysActive      int32    `parquet:"days_active"`
	SongsPerDay     float64  `parquet:"songs_per_day"`
	ThumbsDownRatio *float64 `parquet:"thumbs_down_ratio,optional"`
	IsPaid          bool     `parquet:"is_paid"`
}

// Prediction is a row of predictions/as_of=D as `churnctl score` writes
// it: as_of a YYYY-MM-DD string, model_version a "name@version" reference.
type Prediction struct {
	UserID       string  `parquet:"user_id"`
	AsOf         string  `parquet:"as_of"`
	PChurn       float64 `parquet:"p_churn"`
	Predicted    bool    `parquet:"predicted"`
	Threshold    float64 `parquet:"threshold"`
	ModelVersion string  `parquet:"model_version"`
	RunID        string  `parquet:"run_id"`
}

// Write writes rows to path (parent directories created) as one Parquet
// file with row groups of at most 64Ki rows.
func Write[T any](path string, rows []T) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := parquet.NewGenericWriter[T](f, parquet.MaxRowsPerRowGroup(64<<10), parquet.Compression(&parquet.Snappy))
	for len(rows) > 0 {
		n := min(len(rows), 8192)
		if _, err := w.Write(rows[:n]); err != nil {
			f.Close()
			return err
		}
		rows = rows[n:]
	}
	if err := w.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func day(d string) time.Time {
	t, err := time.Parse(time.DateOnly, d)
	if err != nil {
		panic(err)
	}
	return t
}

// Days returns t as days since 1970-01-01, the Parquet DATE value.
// (parquet-go v0.32.0 writes a time.Time field tagged "date" wrongly, so
// dates are int32 fields.)
func Days(t time.Time) int32 { return int32(t.Unix() / 86400) }

// DayOf returns the Parquet DATE value of a YYYY-MM-DD string.
func DayOf(d string) int32 { return Days(day(d)) }

func ptr[T any](v T) *T { return &v }

// UserID is the id of the i-th synthetic user.
func UserID(i int) string { return fmt.Sprintf("u%06d", i) }

// FactUserDays returns n rows of fact_user_day for day d, users
// offset..offset+n-1; variant changes the values (a re-computed day).
func FactUserDays(d string, offset, n int, variant uint64) []FactUserDay {
	t := day(d)
	r := rand.New(rand.NewPCG(uint64(t.Unix()), variant))
	out := make([]FactUserDay, n)
	for i := range out {
		songs := int32(r.IntN(200))
		first := t.Add(time.Duration(r.IntN(43200)) * time.Second).Add(time.Duration(r.IntN(1000)) * time.Millisecond)
		var level *string
		if i%7 != 3 {
			level = ptr([]string{"free", "paid"}[r.IntN(2)])
		}
		out[i] = FactUserDay{
			UserID: UserID(offset + i), Dt: Days(t),
			NEvents: songs + int32(r.IntN(40)), NSessions: 1 + int32(r.IntN(3)),
			NNextSong: songs, NHome: int32(r.IntN(10)), NThumbsUp: int32(r.IntN(8)), NThumbsDown: int32(r.IntN(3)),
			NAddToPlaylist: int32(r.IntN(4)), NAddFriend: int32(r.IntN(2)), NRollAdvert: int32(r.IntN(5)),
			NLogout: int32(r.IntN(2)), NSettings: int32(r.IntN(2)), NSaveSettings: int32(r.IntN(2)),
			NHelp: int32(r.IntN(2)), NAbout: int32(r.IntN(2)), NError: int32(r.IntN(2)), NUpgrade: int32(r.IntN(2)),
			NDowngrade: int32(r.IntN(2)), NSubmitUpgrade: int32(r.IntN(2)), NSubmitDowngrade: int32(r.IntN(2)),
			NCancel: int32(r.IntN(2)), NCancellationConfirmation: int32(r.IntN(2)), NOther: int32(r.IntN(3)),
			Songs: songs, ListenSeconds: float64(songs) * (200 + r.Float64()*60), DistinctArtists: songs / 2,
			LevelEnd: level, FirstTS: first, LastTS: first.Add(time.Duration(r.IntN(30000)) * time.Second),
			ArtistSketch: binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, r.Uint64()), r.Uint64()),
		}
		if level != nil && *level == "paid" {
			out[i].NPaidEvents = out[i].NEvents
		}
	}
	return out
}

// FactSessions returns n sessions on day d.
func FactSessions(d string, n int, variant uint64) []FactSession {
	t := day(d)
	r := rand.New(rand.NewPCG(uint64(t.Unix())+1, variant))
	out := make([]FactSession, n)
	for i := range out {
		start := t.Add(time.Duration(r.IntN(80000)) * time.Second)
		dur := float64(r.IntN(7200))
		out[i] = FactSession{UserID: UserID(i % 50), SessionID: int64(i), SessionStart: start,
			SessionEnd: start.Add(time.Duration(dur) * time.Second), DurationS: dur, Items: int32(r.IntN(100)),
			Songs: int32(r.IntN(80)), ListenSeconds: dur * 0.8, Dt: Days(t)}
	}
	return out
}

// WriteLake writes a small complete lake under root: gold (dims, two days of
// facts with usersPerDay users each), features and predictions for the
// second day, one model version with metrics, and two run records.
func WriteLake(root string, days []string, usersPerDay int) error {
	for _, d := range days {
		if err := Write(filepath.Join(root, "gold/fact_user_day", "dt="+d, "part-0.parquet"), FactUserDays(d, 0, usersPerDay, 1)); err != nil {
			return err
		}
		if err := Write(filepath.Join(root, "gold/fact_session", "dt="+d, "part-0.parquet"), FactSessions(d, usersPerDay, 1)); err != nil {
			return err
		}
	}
	var users []DimUser
	for i := 0; i < usersPerDay; i++ {
		reg := day(days[0]).AddDate(0, -1, 0)
		from := reg
		if i%5 == 0 { // upgraded on the first day: two versions
			to := day(days[0]).Add(3 * time.Hour)
			users = append(users, DimUser{UserID: UserID(i), ValidFrom: from, ValidTo: &to, Level: ptr("free"), Registration: &reg, Gender: ptr("F"), Location: ptr("Boston, MA")})
			from = to
		}
		var ua *string
		if i%3 != 0 {
			ua = ptr("Mozilla/5.0 (\"quoted\", tab\there)")
		}
		users = append(users, DimUser{UserID: UserID(i), ValidFrom: from, IsCurrent: true, Level: ptr("paid"), Registration: &reg,
			Gender: ptr("M"), Location: ptr("Zürich, ZH"), UserAgent: ua, FirstName: ptr("Ann"), LastName: ptr("O'Neil")})
	}
	if err := Write(filepath.Join(root, "gold/dim_user/part-0.parquet"), users); err != nil {
		return err
	}
	var dates []DimDate
	for _, d := range days {
		t := day(d)
		_, wk := t.ISOWeek()
		dow := int32(t.Weekday())
		if dow == 0 {
			dow = 7
		}
		dates = append(dates, DimDate{Dt: Days(t), Year: int32(t.Year()), Quarter: int32(t.Month()-1)/3 + 1, Month: int32(t.Month()),
			Day: int32(t.Day()), ISOWeek: int32(wk), DayOfWeek: dow, IsWeekend: dow >= 6})
	}
	if err := Write(filepath.Join(root, "gold/dim_date/part-0.parquet"), dates); err != nil {
		return err
	}
	pages := []DimPage{{Page: "NextSong", PageID: 1, Category: ptr("listen")}, {Page: "Cancellation Confirmation", PageID: 2, Category: ptr("churn")}, {Page: "Home", PageID: 3}}
	if err := Write(filepath.Join(root, "gold/dim_page/part-0.parquet"), pages); err != nil {
		return err
	}
	asOf := days[len(days)-1]
	var feats []Feature
	var preds []Prediction
	for i := 0; i < usersPerDay; i++ {
		f := Feature{UserID: UserID(i), Level: []string{"free", "paid"}[i%2], DaysActive: int32(i%30 + 1), SongsPerDay: float64(i) / 7, IsPaid: i%2 == 0}
		if i%4 != 0 {
			f.Label = ptr(int32(i % 2))
		}
		if i%6 != 0 {
			f.ThumbsDownRatio = ptr(float64(i%10) / 10)
		}
		feats = append(feats, f)
		p := float64(i%100) / 100
		preds = append(preds, Prediction{UserID: UserID(i), AsOf: asOf, PChurn: p, Predicted: p >= 0.4, Threshold: 0.4,
			ModelVersion: "rf@1", RunID: "20260101T000000Z-score"})
	}
	if err := Write(filepath.Join(root, "features", "as_of="+asOf, "part-0.parquet"), feats); err != nil {
		return err
	}
	if err := Write(filepath.Join(root, "predictions", "as_of="+asOf, "part-0.parquet"), preds); err != nil {
		return err
	}
	files := map[string]any{
		"models/rf/1/model.json": map[string]any{"name": "rf", "version": "1", "created_at": "2026-01-01T00:00:00Z",
			"params": map[string]any{"trees": 100, "max_depth": 12}, "threshold": 0.4, "run_id": "20260101T000000Z-train"},
		"models/rf/1/metrics.json": map[string]any{"cv": map[string]any{"auc": 0.95, "f1": 0.8}, "holdout": map[string]any{"auc": 0.93},
			"confusion": [][]int{{1, 2}, {3, 4}}},
		"models/rf/2/model.json": map[string]any{"version": 2, "created_at": "2026-01-02T00:00:00Z", "threshold": 0.45,
			"metrics": map[string]any{"auc": 0.96}},
		"models/rf/aliases.json": map[string]string{"challenger": "1", "champion": "1"},
		"runs/20260101T000000Z-train.json": map[string]any{"run_id": "20260101T000000Z-train", "command": "train",
			"args": []string{"--lake", "/lake", "--dsn", "postgres://u:s3cret@db/x"}, "status": "ok", "exit_code": 0,
			"counts": map[string]any{"rows": 100}, "started_at": "2026-01-01T00:00:00Z", "finished_at": "2026-01-01T00:00:02Z", "duration_ms": 2000},
		"runs/20260101T000000Z-score.json": map[string]any{"command": "score", "status": "error", "exit_code": 3,
			"finished_at": "2026-01-01T00:10:00Z", "duration_ms": 1500, "rows_out": 42},
	}
	for name, v := range files {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
