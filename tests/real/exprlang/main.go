// exprlang evaluates Kargo-style `${{ ... }}` expressions with the real expr-lang (the version Kargo v1.11.0
// pins), one JSON request per line on stdin: {"expr", "now", "configmap", "image_tag"} -> {"value"} or
// {"error"}. `now()` is the request's instant; `configMap()` and `imageFrom()` have Kargo's signatures
// (pkg/expressions/function); `quote()` is Kargo's. The tier compares its answers with stonks-tui's reading of the
// gate (market_hours.py) and with the simulator's evaluator (sim/expr.py).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/expr-lang/expr"
)

type request struct {
	Expr      string            `json:"expr"`
	Now       string            `json:"now"`
	ConfigMap map[string]string `json:"configmap"`
	ImageTag  string            `json:"image_tag"`
}

type image struct {
	RepoURL string
	Tag     string
	Digest  string
}

func answer(v map[string]any) {
	out, _ := json.Marshal(v)
	fmt.Println(string(out))
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	for in.Scan() {
		var r request
		if err := json.Unmarshal(in.Bytes(), &r); err != nil {
			answer(map[string]any{"error": err.Error()})
			continue
		}
		now, err := time.Parse(time.RFC3339, r.Now)
		if err != nil {
			answer(map[string]any{"error": err.Error()})
			continue
		}
		cm := r.ConfigMap
		if cm == nil {
			cm = map[string]string{}
		}
		src := strings.TrimSpace(r.Expr)
		src = strings.TrimSuffix(strings.TrimPrefix(src, "${{"), "}}")
		program, err := expr.Compile(src,
			expr.DisableBuiltin("now"),
			expr.Function("now", func(...any) (any, error) { return now, nil }, new(func() time.Time)),
			expr.Function("configMap", func(...any) (any, error) { return cm, nil },
				new(func(string) map[string]string)),
			expr.Function("imageFrom", func(a ...any) (any, error) {
				return image{RepoURL: a[0].(string), Tag: r.ImageTag}, nil
			}, new(func(string) image)),
			expr.Function("quote", func(a ...any) (any, error) { return fmt.Sprintf("%q", a[0]), nil },
				new(func(any) string)),
		)
		if err != nil {
			answer(map[string]any{"error": err.Error()})
			continue
		}
		value, err := expr.Run(program, map[string]any{})
		if err != nil {
			answer(map[string]any{"error": err.Error()})
			continue
		}
		answer(map[string]any{"value": value})
	}
}
