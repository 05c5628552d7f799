package sql

// PGType is a column's PostgreSQL type as the loader encodes it.
type PGType int

// The column types the warehouse uses.
const (
	Text PGType = iota
	Int2
	Int4
	Int8
	Float8
	Bool
	Date
	Timestamptz
	JSONB
)

func (t PGType) String() string {
	return [...]string{"text", "smallint", "integer", "bigint", "double precision", "boolean", "date", "timestamptz", "jsonb"}[t]
}

// Column is a target column; Parquet columns map to it by Name.
type Column struct {
	Name string
	Type PGType
	// Required columns must be in every Parquet file (exit 3 otherwise).
	// An optional column missing from a file takes the table default (NULL
	// or 0).
	Required bool
	// Aliases are other Parquet names accepted for this column (the first
	// one present wins after Name).
	Aliases []string
}

// Table is a warehouse table and where its rows live in the lake.
type Table struct {
	Name    string   // table name in schema churn
	Group   string   // --tables group: gold, features, predictions, models, runs
	Dir     string   // lake directory relative to the lake root
	Part    string   // partition column filled from Dir/<Part>=YYYY-MM-DD; "" = full snapshot
	Key     []string // primary key
	Columns []Column
	// Ignore lists Parquet columns known not to be loaded; any other column
	// the table lacks is an error (exit 3), so that a renamed column is not
	// silently dropped.
	Ignore []string
	// FeatureJSON: every Parquet column other than Columns and Ignore is a
	// feature and goes into the jsonb column "features".
	FeatureJSON bool
	// SplitRef names a column holding "name@version" references and the
	// column that takes the name part when the file lacks it (score writes
	// model_version "churn@3" without model_name).
	SplitRef [2]string
}

func req(name string, t PGType) Column { return Column{Name: name, Type: t, Required: true} }
func opt(name string, t PGType) Column { return Column{Name: name, Type: t} }

// PageCountColumns are fact_user_day's per-page event counts, in table order.
var PageCountColumns = []string{
	"n_next_song", "n_home", "n_thumbs_up", "n_thumbs_down", "n_add_to_playlist", "n_add_friend",
	"n_roll_advert", "n_logout", "n_settings", "n_save_settings", "n_help", "n_about", "n_error",
	"n_upgrade", "n_downgrade", "n_submit_upgrade", "n_submit_downgrade", "n_cancel",
	"n_cancellation_confirmation", "n_other",
}

func factUserDayColumns() []Column {
	cs := []Column{req("user_id", Text), req("dt", Date), req("n_events", Int4), req("n_sessions", Int4)}
	for _, p := range PageCountColumns {
		cs = append(cs, opt(p, Int4))
	}
	return append(cs, req("songs", Int4), req("listen_seconds", Float8), req("distinct_artists", Int4),
		opt("level_end", Text), req("first_ts", Timestamptz), req("last_ts", Timestamptz), opt("n_paid_events", Int4))
}

// Tables lists the loadable tables in load order (models before their
// metrics, dimensions before facts).
var Tables = []*Table{
	{Name: "dim_user", Group: "gold", Dir: "gold/dim_user", Key: []string{"user_id", "valid_from"},
		Columns: []Column{req("user_id", Text), req("valid_from", Timestamptz), opt("valid_to", Timestamptz),
			req("is_current", Bool), opt("level", Text), opt("registration", Timestamptz), opt("gender", Text),
			opt("location", Text), opt("user_agent", Text), opt("first_name", Text), opt("last_name", Text)}},
	{Name: "dim_date", Group: "gold", Dir: "gold/dim_date", Key: []string{"dt"},
		Columns: []Column{{Name: "dt", Type: Date, Required: true, Aliases: []string{"date"}}, req("year", Int2),
			opt("quarter", Int2), req("month", Int2), req("day", Int2), req("iso_week", Int2),
			{Name: "day_of_week", Type: Int2, Required: true, Aliases: []string{"weekday"}}, req("is_weekend", Bool)}},
	{Name: "dim_page", Group: "gold", Dir: "gold/dim_page", Key: []string{"page"},
		Columns: []Column{req("page", Text), opt("page_group", Text), opt("is_song", Bool), opt("is_churn_event", Bool)},
		Ignore:  []string{"page_id"}},
	{Name: "fact_session", Group: "gold", Dir: "gold/fact_session", Part: "dt", Key: []string{"user_id", "session_id", "session_start"},
		Columns: []Column{req("user_id", Text), req("session_id", Int8), req("session_start", Timestamptz),
			req("session_end", Timestamptz), req("duration_s", Float8), req("items", Int4), req("songs", Int4),
			req("listen_seconds", Float8), req("dt", Date), opt("crosses_midnight", Bool)}},
	{Name: "fact_user_day", Group: "gold", Dir: "gold/fact_user_day", Part: "dt", Key: []string{"user_id", "dt"},
		Columns: factUserDayColumns(), Ignore: []string{"artist_sketch"}},
	{Name: "feature_snapshot", Group: "features", Dir: "features", Part: "as_of", Key: []string{"user_id", "as_of"},
		Columns: []Column{req("user_id", Text), req("as_of", Date), {Name: "churn", Type: Int2, Aliases: []string{"label"}}}, FeatureJSON: true,
		Ignore: []string{"run_id", "ingest_run_id"}},
	{Name: "prediction", Group: "predictions", Dir: "predictions", Part: "as_of", Key: []string{"user_id", "as_of", "model_name", "model_version"},
		Columns: []Column{req("user_id", Text), req("as_of", Date), req("p_churn", Float8), req("predicted", Bool),
			req("threshold", Float8), req("model_name", Text), req("model_version", Text), opt("run_id", Text),
			opt("rank", Int4), opt("contact", Bool)},
		Ignore: []string{"label", "churn"}, SplitRef: [2]string{"model_version", "model_name"}},
}

// TableByName returns the table called name, or nil.
func TableByName(name string) *Table {
	for _, t := range Tables {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// Groups are the --tables values in load order.
var Groups = []string{"gold", "features", "models", "predictions", "runs"}
