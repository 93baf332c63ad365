package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/x509"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The OCI structures the test reads, written out here (not taken from
// go-containerregistry) so the check does not trust the writer's own types.
type (
	ociDescriptor struct {
		MediaType   string            `json:"mediaType"`
		Digest      string            `json:"digest"`
		Size        int64             `json:"size"`
		Annotations map[string]string `json:"annotations"`
	}
	ociIndex struct {
		SchemaVersion int             `json:"schemaVersion"`
		Manifests     []ociDescriptor `json:"manifests"`
	}
	ociManifest struct {
		SchemaVersion int             `json:"schemaVersion"`
		MediaType     string          `json:"mediaType"`
		Config        ociDescriptor   `json:"config"`
		Layers        []ociDescriptor `json:"layers"`
	}
	ociConfig struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
		Config       struct {
			User       string
			Entrypoint []string
			Cmd        []string
			Env        []string
		} `json:"config"`
		RootFS struct {
			Type    string   `json:"type"`
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
)

// imageTarball is the tarball under test: LSQBRIDGE_IMAGE (what `make
// image` wrote, as `make check-image` passes it), else one built here
// from a fresh static build of cmd/lsqbridge.
func imageTarball(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("LSQBRIDGE_IMAGE"); p != "" {
		return p
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "lsqbridge")
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "../lsqbridge")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build lsqbridge: %v\n%s", err, out)
	}
	out := filepath.Join(dir, "image.tar")
	if err := build(options{Binary: bin, Out: out, Arch: runtime.GOARCH, Version: "test", Created: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	return out
}

// readTar returns the regular files of a tar stream by name, and every
// entry's header.
func readTar(t *testing.T, r io.Reader) (map[string][]byte, map[string]*tar.Header) {
	t.Helper()
	files, headers := map[string][]byte{}, map[string]*tar.Header{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, headers
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		headers[name] = h
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[name] = b
		}
	}
}

func sha256Digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// TestImageIsStaticNonRootShellFreeWithCAs reads the OCI tarball and
// checks what the issue asks of the image: an OCI layout whose blobs
// match their digests; the binary as entrypoint, static; a non-root user
// that exists in /etc/passwd; no shell anywhere; a CA bundle.
func TestImageIsStaticNonRootShellFreeWithCAs(t *testing.T) {
	t.Parallel()
	f, err := os.Open(imageTarball(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	layout, _ := readTar(t, f)
	if !strings.Contains(string(layout["oci-layout"]), `"imageLayoutVersion"`) {
		t.Fatalf("no oci-layout file: %q", layout["oci-layout"])
	}
	blob := func(d ociDescriptor) []byte {
		t.Helper()
		b, ok := layout["blobs/sha256/"+strings.TrimPrefix(d.Digest, "sha256:")]
		if !ok {
			t.Fatalf("blob %s is missing", d.Digest)
		}
		if got := sha256Digest(b); got != d.Digest || int64(len(b)) != d.Size {
			t.Fatalf("blob %s: content digest %s, size %d (descriptor says %d)", d.Digest, got, len(b), d.Size)
		}
		return b
	}
	var index ociIndex
	if err := json.Unmarshal(layout["index.json"], &index); err != nil {
		t.Fatal(err)
	}
	if index.SchemaVersion != 2 || len(index.Manifests) != 1 {
		t.Fatalf("index.json: %+v; want one manifest", index)
	}
	if ref := index.Manifests[0].Annotations["org.opencontainers.image.ref.name"]; !strings.HasPrefix(ref, "lsqbridge:") {
		t.Errorf("image ref name %q", ref)
	}
	var m ociManifest
	if err := json.Unmarshal(blob(index.Manifests[0]), &m); err != nil {
		t.Fatal(err)
	}
	if m.MediaType != "application/vnd.oci.image.manifest.v1+json" || m.Config.MediaType != "application/vnd.oci.image.config.v1+json" {
		t.Errorf("manifest %s, config %s: want OCI media types", m.MediaType, m.Config.MediaType)
	}
	var cfg ociConfig
	if err := json.Unmarshal(blob(m.Config), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.OS != "linux" || cfg.Architecture == "" {
		t.Errorf("platform %s/%s", cfg.OS, cfg.Architecture)
	}
	if len(m.Layers) != len(cfg.RootFS.DiffIDs) {
		t.Fatalf("%d layers, %d diff_ids", len(m.Layers), len(cfg.RootFS.DiffIDs))
	}

	// The file system: every layer, in order (the base is empty).
	files, headers := map[string][]byte{}, map[string]*tar.Header{}
	for i, l := range m.Layers {
		zr, err := gzip.NewReader(bytes.NewReader(blob(l)))
		if err != nil {
			t.Fatalf("layer %d: %v", i, err)
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256Digest(raw); got != cfg.RootFS.DiffIDs[i] {
			t.Errorf("layer %d: uncompressed digest %s, diff_id %s", i, got, cfg.RootFS.DiffIDs[i])
		}
		fs, hs := readTar(t, bytes.NewReader(raw))
		for k, v := range fs {
			files[k] = v
		}
		for k, v := range hs {
			headers[k] = v
		}
	}

	// The binary is the entrypoint, executable and static.
	if len(cfg.Config.Entrypoint) != 1 {
		t.Fatalf("entrypoint %q, want the binary alone", cfg.Config.Entrypoint)
	}
	entry := strings.TrimPrefix(cfg.Config.Entrypoint[0], "/")
	bin, ok := files[entry]
	if !ok {
		t.Fatalf("the entrypoint %s is not in the image", cfg.Config.Entrypoint[0])
	}
	if h := headers[entry]; h.Mode&0o111 == 0 || h.Uid != 0 || h.Mode&0o022 != 0 {
		t.Errorf("%s: mode %o owner %d; want executable, owned by root, writable by nobody else", entry, h.Mode, h.Uid)
	}
	exe, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("%s is not an ELF binary: %v", entry, err)
	}
	for _, p := range exe.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s is dynamically linked (it names an interpreter); build with CGO_ENABLED=0", entry)
		}
	}
	if !strings.HasPrefix(path.Base(entry), "lsqbridge") {
		t.Errorf("entrypoint %s is not the lsqbridge binary", entry)
	}

	// A non-root user, named in /etc/passwd.
	user, _, _ := strings.Cut(cfg.Config.User, ":")
	uid, err := strconv.Atoi(user)
	if err != nil || uid == 0 {
		t.Errorf("user %q: want a numeric non-root uid (Kubernetes runAsNonRoot checks it)", cfg.Config.User)
	}
	if !strings.Contains(string(files["etc/passwd"]), ":x:"+user+":") {
		t.Errorf("/etc/passwd has no entry for uid %s:\n%s", user, files["etc/passwd"])
	}

	// No shell: neither /bin/sh nor any other shell or busybox anywhere.
	for name, h := range headers {
		base := path.Base(name)
		switch base {
		case "sh", "bash", "ash", "dash", "zsh", "busybox":
			t.Errorf("the image has a shell: /%s", name)
		}
		if h.Typeflag == tar.TypeSymlink || h.Typeflag == tar.TypeLink {
			t.Errorf("unexpected link /%s → %s", name, h.Linkname)
		}
		if (h.Typeflag == tar.TypeReg && h.Mode&0o111 != 0) && name != entry {
			t.Errorf("an executable other than the entrypoint: /%s", name)
		}
	}
	if _, ok := headers["bin/sh"]; ok {
		t.Error("/bin/sh exists")
	}

	// The CA bundle, where Go (and SSL_CERT_FILE) looks.
	pool := x509.NewCertPool()
	ca := files["etc/ssl/certs/ca-certificates.crt"]
	if !pool.AppendCertsFromPEM(ca) || strings.Count(string(ca), "BEGIN CERTIFICATE") < 100 {
		t.Errorf("/etc/ssl/certs/ca-certificates.crt has %d certificates, want the full root store", strings.Count(string(ca), "BEGIN CERTIFICATE"))
	}
	if t.Failed() {
		return
	}
	t.Logf("image: %s/%s, entrypoint %s (static, %d MB), user %s, %d files, %d CA certificates, no shell",
		cfg.OS, cfg.Architecture, cfg.Config.Entrypoint[0], len(bin)>>20, cfg.Config.User, len(files), strings.Count(string(ca), "BEGIN CERTIFICATE"))
}
