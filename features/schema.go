package features

import (
	"encoding/json"
	"sort"
	"strings"
)

// Type is the logical type of a feature, as written in the schema file.
type Type string

// Feature types. Float64 and Int64 columns are stored as such; Bool columns
// are Arrow booleans in Parquet/Arrow and 0/1 in CSV; Category columns are
// computed as codes into Feature.Categories (code 0 = unknown) and stored as
// the values themselves (dictionary-encoded strings) in Parquet and Arrow,
// as the codes in CSV (for scikit-learn); readers map values back to codes
// through the schema file.
const (
	Float64  Type = "float64"
	Int64    Type = "int64"
	Bool     Type = "bool"
	Category Type = "category"
)

// Feature describes one column of a snapshot.
type Feature struct {
	Name        string `json:"name"`
	Type        Type   `json:"type"`
	Description string `json:"description"`
	// Categories maps codes to values for Category features: code i means
	// Categories[i]; Categories[0] is "unknown".
	Categories []string `json:"categories,omitempty"`
}

// Schema file constants.
const (
	SchemaVersion  = 1
	SchemaFileName = "features.schema.json"
	LabelColumn    = "churn"
	IDColumn       = "user_id"
	AsOfColumn     = "as_of"
)

// SchemaFile is the content of features.schema.json, written beside every
// snapshot table (train and score read it).
type SchemaFile struct {
	Version     int       `json:"version"`
	Features    []Feature `json:"features"`
	Label       string    `json:"label"`
	ID          string    `json:"id"`
	AsOf        string    `json:"as_of"`
	Labeled     bool      `json:"labeled"`
	HorizonDays int       `json:"horizon_days"`
	WindowDays  int       `json:"window_days"`
}

// MarshalSchema renders the schema file of a snapshot (indented, stable,
// newline-terminated).
func MarshalSchema(s *Snapshot) ([]byte, error) {
	f := SchemaFile{
		Version:     SchemaVersion,
		Features:    Features(),
		Label:       LabelColumn,
		ID:          IDColumn,
		AsOf:        s.AsOf.String(),
		Labeled:     s.Labeled,
		HorizonDays: s.HorizonDays,
		WindowDays:  s.WindowDays,
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Vocabularies of the categorical features. They are fixed (not learned from
// the data) so that a code means the same thing in every snapshot.
var (
	GenderCategories = []string{"unknown", "F", "M"}
	OSCategories     = []string{"unknown", "windows", "mac", "linux", "ios", "android", "other"}
	StateCategories  = append([]string{"unknown"}, usStates...)
)

// usStates: the 50 states, DC and PR, sorted.
var usStates = func() []string {
	s := strings.Fields(`AK AL AR AZ CA CO CT DC DE FL GA HI IA ID IL IN KS KY LA MA MD ME MI MN MO MS MT NC ND NE NH NJ NM NV NY OH OK OR PA PR RI SC SD TN TX UT VA VT WA WI WV WY`)
	sort.Strings(s)
	return s
}()

var stateCode = func() map[string]int {
	m := make(map[string]int, len(StateCategories))
	for i, s := range StateCategories {
		if i > 0 {
			m[s] = i
		}
	}
	return m
}()

// GenderCode encodes a gender value ("F", "M"; anything else is unknown).
func GenderCode(g string) int {
	switch g {
	case "F":
		return 1
	case "M":
		return 2
	}
	return 0
}

// OSCode classifies a user agent into OSCategories.
func OSCode(ua string) int {
	switch {
	case ua == "":
		return 0
	case strings.Contains(ua, "iPhone"), strings.Contains(ua, "iPad"), strings.Contains(ua, "iPod"):
		return 4
	case strings.Contains(ua, "Android"):
		return 5
	case strings.Contains(ua, "Windows"):
		return 1
	case strings.Contains(ua, "Macintosh"), strings.Contains(ua, "Mac OS X"):
		return 2
	case strings.Contains(ua, "Linux"), strings.Contains(ua, "X11"), strings.Contains(ua, "CrOS"):
		return 3
	}
	return 6
}

// StateCode extracts the US state of a Sparkify location ("City, ST" or
// "Metro Area, ST1-ST2": the first state counts) and encodes it into
// StateCategories; unknown or non-US locations give 0.
func StateCode(loc string) int {
	i := strings.LastIndex(loc, ", ")
	if i < 0 {
		return 0
	}
	st := loc[i+2:]
	if j := strings.IndexByte(st, '-'); j >= 0 {
		st = st[:j]
	}
	return stateCode[strings.TrimSpace(st)]
}

// pageCols are the gold fact_user_day page counts that feed features, with
// the name used in feature names. NextSong is covered by n_songs; Cancel and
// Cancellation Confirmation never feed a feature.
var pageCols = []struct{ col, name, page string }{
	{"n_home", "home", "Home"},
	{"n_thumbs_up", "thumbs_up", "Thumbs Up"},
	{"n_thumbs_down", "thumbs_down", "Thumbs Down"},
	{"n_add_to_playlist", "add_to_playlist", "Add to Playlist"},
	{"n_add_friend", "add_friend", "Add Friend"},
	{"n_roll_advert", "roll_advert", "Roll Advert"},
	{"n_logout", "logout", "Logout"},
	{"n_settings", "settings", "Settings"},
	{"n_save_settings", "save_settings", "Save Settings"},
	{"n_help", "help", "Help"},
	{"n_about", "about", "About"},
	{"n_error", "error", "Error"},
	{"n_upgrade", "upgrade", "Upgrade"},
	{"n_downgrade", "downgrade", "Downgrade"},
	{"n_submit_upgrade", "submit_upgrade", "Submit Upgrade"},
	{"n_submit_downgrade", "submit_downgrade", "Submit Downgrade"},
}

// perSongPages are the pages that also get a per-song rate.
var perSongPages = []string{"thumbs_up", "thumbs_down", "add_to_playlist", "add_friend", "roll_advert"}

// Features returns the snapshot's feature columns in their stable order.
func Features() []Feature {
	out := make([]Feature, len(featureDefs))
	for i, d := range featureDefs {
		out[i] = d.Feature
	}
	return out
}

// FeatureNames returns the feature column names in order.
func FeatureNames() []string {
	out := make([]string, len(featureDefs))
	for i, d := range featureDefs {
		out[i] = d.Name
	}
	return out
}
