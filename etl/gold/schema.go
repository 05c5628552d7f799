package gold

import "github.com/apache/arrow-go/v18/arrow"

var (
	tsType  = arrow.FixedWidthTypes.Timestamp_ms
	str     = arrow.BinaryTypes.String
	i64     = arrow.PrimitiveTypes.Int64
	i32     = arrow.PrimitiveTypes.Int32
	f64     = arrow.PrimitiveTypes.Float64
	boolean = arrow.FixedWidthTypes.Boolean
)

// Pages counted in fact_user_day, in column order; any other page counts in
// n_other.
var Pages = []struct{ Page, Column string }{
	{"NextSong", "n_next_song"},
	{"Home", "n_home"},
	{"Thumbs Up", "n_thumbs_up"},
	{"Thumbs Down", "n_thumbs_down"},
	{"Add to Playlist", "n_add_to_playlist"},
	{"Add Friend", "n_add_friend"},
	{"Roll Advert", "n_roll_advert"},
	{"Logout", "n_logout"},
	{"Settings", "n_settings"},
	{"Save Settings", "n_save_settings"},
	{"Help", "n_help"},
	{"About", "n_about"},
	{"Error", "n_error"},
	{"Upgrade", "n_upgrade"},
	{"Downgrade", "n_downgrade"},
	{"Submit Upgrade", "n_submit_upgrade"},
	{"Submit Downgrade", "n_submit_downgrade"},
	{"Cancel", "n_cancel"},
	{"Cancellation Confirmation", "n_cancellation_confirmation"},
}

const pageOther = 19 // index of n_other

func pageIndex(p string) int {
	switch p {
	case "NextSong":
		return 0
	case "Home":
		return 1
	case "Thumbs Up":
		return 2
	case "Thumbs Down":
		return 3
	case "Add to Playlist":
		return 4
	case "Add Friend":
		return 5
	case "Roll Advert":
		return 6
	case "Logout":
		return 7
	case "Settings":
		return 8
	case "Save Settings":
		return 9
	case "Help":
		return 10
	case "About":
		return 11
	case "Error":
		return 12
	case "Upgrade":
		return 13
	case "Downgrade":
		return 14
	case "Submit Upgrade":
		return 15
	case "Submit Downgrade":
		return 16
	case "Cancel":
		return 17
	case "Cancellation Confirmation":
		return 18
	}
	return pageOther
}

// FactUserDaySchema is gold/fact_user_day.
var FactUserDaySchema = func() *arrow.Schema {
	f := []arrow.Field{
		{Name: "user_id", Type: str},
		{Name: "dt", Type: arrow.FixedWidthTypes.Date32},
		{Name: "n_events", Type: i64},
		{Name: "n_sessions", Type: i64},
	}
	for _, p := range Pages {
		f = append(f, arrow.Field{Name: p.Column, Type: i64})
	}
	f = append(f,
		arrow.Field{Name: "n_other", Type: i64},
		arrow.Field{Name: "songs", Type: i64},
		arrow.Field{Name: "listen_seconds", Type: f64},
		arrow.Field{Name: "distinct_artists", Type: i64},
		arrow.Field{Name: "artist_sketch", Type: arrow.BinaryTypes.Binary},
		arrow.Field{Name: "n_paid_events", Type: i64},
		arrow.Field{Name: "level_end", Type: str},
		arrow.Field{Name: "first_ts", Type: tsType},
		arrow.Field{Name: "last_ts", Type: tsType},
	)
	return arrow.NewSchema(f, nil)
}()

// FactSessionSchema is gold/fact_session (partitioned by session start day).
var FactSessionSchema = arrow.NewSchema([]arrow.Field{
	{Name: "user_id", Type: str},
	{Name: "session_id", Type: i64},
	{Name: "session_start", Type: tsType},
	{Name: "session_end", Type: tsType},
	{Name: "duration_s", Type: f64},
	{Name: "items", Type: i64},
	{Name: "songs", Type: i64},
	{Name: "listen_seconds", Type: f64},
	{Name: "crosses_midnight", Type: boolean},
}, nil)

// DimUserSchema is gold/dim_user (SCD2 on level).
var DimUserSchema = arrow.NewSchema([]arrow.Field{
	{Name: "user_id", Type: str},
	{Name: "valid_from", Type: tsType},
	{Name: "valid_to", Type: tsType, Nullable: true},
	{Name: "is_current", Type: boolean},
	{Name: "level", Type: str},
	{Name: "registration", Type: tsType, Nullable: true},
	{Name: "gender", Type: str, Nullable: true},
	{Name: "location", Type: str, Nullable: true},
	{Name: "user_agent", Type: str, Nullable: true},
	{Name: "first_name", Type: str, Nullable: true},
	{Name: "last_name", Type: str, Nullable: true},
}, nil)

// DimDateSchema is gold/dim_date. weekday: 1 = Monday ... 7 = Sunday (ISO).
var DimDateSchema = arrow.NewSchema([]arrow.Field{
	{Name: "date", Type: arrow.FixedWidthTypes.Date32},
	{Name: "year", Type: i32},
	{Name: "month", Type: i32},
	{Name: "day", Type: i32},
	{Name: "iso_week", Type: i32},
	{Name: "weekday", Type: i32},
	{Name: "is_weekend", Type: boolean},
}, nil)

// DimPageSchema is gold/dim_page.
var DimPageSchema = arrow.NewSchema([]arrow.Field{
	{Name: "page", Type: str},
	{Name: "page_group", Type: str},
	{Name: "is_song", Type: boolean},
	{Name: "is_churn_event", Type: boolean},
}, nil)
