package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocLinksResolveInsideTheRepository reads every Markdown link of the
// README and docs/ and checks that each relative one names a file or folder
// of the repository (and, with a #fragment into a Markdown file, a heading
// of it). Links leaving the repository by a relative path are refused: on a
// clone they are dead.
func TestDocLinksResolveInsideTheRepository(t *testing.T) {
	root, err := filepath.Abs("../..")
	check(t, err)
	files, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	check(t, err)
	files = append(files, filepath.Join(root, "README.md"))
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	checked := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		check(t, err)
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, frag, _ := strings.Cut(target, "#")
			dest := f
			if path != "" {
				dest = filepath.Clean(filepath.Join(filepath.Dir(f), path))
			}
			rel, err := filepath.Rel(root, dest)
			if err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("%s: link %q leaves the repository", strings.TrimPrefix(f, root+"/"), target)
				continue
			}
			if _, err := os.Stat(dest); err != nil {
				t.Errorf("%s: link %q: no such file %s", strings.TrimPrefix(f, root+"/"), target, rel)
				continue
			}
			if frag != "" && strings.HasSuffix(dest, ".md") && !hasAnchor(t, dest, frag) {
				t.Errorf("%s: link %q: %s has no heading #%s", strings.TrimPrefix(f, root+"/"), target, rel, frag)
			}
			checked++
		}
	}
	t.Logf("%d links in README.md and docs/ resolve inside the repository", checked)
}

// hasAnchor reports whether a Markdown file has a heading whose GitHub
// anchor is frag.
func hasAnchor(t *testing.T, file, frag string) bool {
	b, err := os.ReadFile(file)
	check(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		var a strings.Builder
		for _, r := range h {
			switch {
			case r == ' ':
				a.WriteRune('-')
			case r == '-' || r == '_' || ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') || r > 127:
				a.WriteRune(r)
			}
		}
		if a.String() == frag {
			return true
		}
	}
	return false
}
