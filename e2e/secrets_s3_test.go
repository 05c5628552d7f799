package e2e

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPlantedAWSSecretsNeverWritten plants a marked AWS secret key and
// session token in the environment of `churnctl run` with its inputs on a
// real MinIO: refused (a wrong secret key, a session token the store does
// not know: exit 3) and failing (the store down: exit 4), with debug logs
// in both formats, and in `config show`. No byte of the planted values may
// reach stdout, stderr or any file of the lake (run records included).
func TestPlantedAWSSecretsNeverWritten(t *testing.T) {
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	awsEnv := readmeS3(t, repo)
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close() // nothing listens there any more
	lakeDir := filepath.Join(t.TempDir(), "lake")
	scan := &leakScan{t: t, report: t.Errorf}
	input := "s3://churnctl-logs/logs/2018/11/"
	for i, tc := range []struct {
		name string
		env  []string
		code int
	}{
		{"wrong secret key", []string{"AWS_SECRET_ACCESS_KEY=" + leakMark + "01/secret+key="}, 3},
		{"unknown session token", []string{"AWS_SESSION_TOKEN=" + leakMark + "02-token//+="}, 3},
		{"store down", []string{"AWS_SECRET_ACCESS_KEY=" + leakMark + "03-secret", "AWS_SESSION_TOKEN=" + leakMark + "03-token",
			"AWS_ENDPOINT_URL_S3=" + downURL}, 4},
	} {
		env := append(append([]string{}, awsEnv...), tc.env...)
		since := time.Now()
		format := []string{"json", "text"}[i%2]
		r := churnctlEnv(t, env, "run", "--lake", lakeDir, "--inputs", input, "--trees", "30", "--folds", "3",
			"--log-level", "debug", "--log-format", format)
		scan.result(tc.name, r)
		if r.code != tc.code {
			t.Errorf("%s: exit %d, want %d\n%s", tc.name, r.code, tc.code, tail(r.stderr))
		}
		if tc.code == 3 && !strings.Contains(r.stderr, "churnctl-logs") {
			t.Errorf("%s: the error does not name the bucket:\n%s", tc.name, tail(r.stderr))
		}
		scan.tree(tc.name, lakeDir, since.Add(-time.Second))
		show := churnctlEnv(t, env, "config", "show", "--lake", lakeDir, "--inputs", input)
		scan.result(tc.name+" config show", show)
		if show.code != 0 {
			t.Errorf("%s config show: exit %d\n%s", tc.name, show.code, tail(show.stderr))
		}
	}
	if scan.places < 12 {
		t.Fatalf("scanned only %d places", scan.places)
	}
}
