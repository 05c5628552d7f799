package e2e

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestBashCompletionScript sources `churnctl completion bash` in bash and
// presses TAB the way bash does (COMP_WORDS, COMP_CWORD, then the
// script's entry function): the candidates come back and the script prints
// no error. bash-completion's _init_completion and bash's compopt (only
// usable inside a real completion) are replaced by minimal stand-ins.
func TestBashCompletionScript(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	shim := `_init_completion() { words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}; }
compopt() { :; }
`
	for _, tt := range []struct {
		words []string
		want  string
	}{
		{[]string{"churnctl", "mod"}, "models"},
		{[]string{"churnctl", "models", "l"}, "list"},
		{[]string{"churnctl", "etl", "bronze", "--la"}, "--lake"},
		{[]string{"churnctl", "version", "--log-format", "js"}, "json"},
	} {
		script := shim + `source <(churnctl completion bash)
COMP_WORDS=(` + strings.Join(tt.words, " ") + `); COMP_CWORD=` + strconv.Itoa(len(tt.words)-1) + `
__start_churnctl churnctl
printf '%s\n' "${COMPREPLY[@]}"
`
		cmd := exec.Command(bash, "--norc", "--noprofile", "-c", script)
		cmd.Env = append(cleanEnv(), "PATH="+filepath.Dir(binary)+":/usr/bin:/bin")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || stderr.Len() > 0 {
			t.Errorf("TAB after %q: %v, stderr:\n%s", tt.words, err, stderr.String())
		}
		if got := strings.Fields(string(out)); len(got) == 0 || got[0] != tt.want {
			t.Errorf("TAB after %q completes %q, want %s", tt.words, got, tt.want)
		}
	}
}
