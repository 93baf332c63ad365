// Command ociimage builds lsqbridge's container image without a container
// engine: the static lsqbridge binary, a CA bundle and the passwd/group
// entries of a non-root user, as one layer on an empty base (no shell, no
// package manager), written as an OCI image layout in a tar file that
// `docker load`, `podman load`, `skopeo copy oci-archive:…` and registries'
// push tools accept. `make image` runs it; it is a build tool, not part of
// the lsqbridge binary.
//
// The CA bundle is Mozilla's (NSS) root store as the Go team ships it in
// golang.org/x/crypto/x509roots/fallback/bundle, pinned by go.mod, so the
// image does not depend on the build machine's certificates. Roots that
// carry a distrust-after constraint (which a PEM file cannot express) are
// left out.
package main

import (
	"archive/tar"
	"bytes"
	"crypto/x509"
	"debug/elf"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// The image's fixed facts.
const (
	binaryPath = "/lsqbridge"
	caPath     = "/etc/ssl/certs/ca-certificates.crt"
	// uid and gid of the user the process runs as (distroless's "nonroot").
	nonRootID = 65532
	port      = "8080/tcp"
)

// options says what to build.
type options struct {
	Binary  string // the static linux lsqbridge binary
	Out     string // the OCI tarball to write
	Arch    string // the binary's GOARCH
	Version string // image version label ("" leaves it out)
	Created time.Time
}

func main() {
	var o options
	flag.StringVar(&o.Binary, "binary", "", "the static lsqbridge binary (CGO_ENABLED=0 GOOS=linux)")
	flag.StringVar(&o.Out, "o", "bin/lsqbridge-image.tar", "the OCI image tarball to write")
	flag.StringVar(&o.Arch, "arch", runtime.GOARCH, "the binary's architecture (GOARCH)")
	flag.StringVar(&o.Version, "version", "", "the org.opencontainers.image.version label")
	flag.Parse()
	// Fixed file times, so the same inputs give the same image digest
	// (SOURCE_DATE_EPOCH, the reproducible-builds convention, sets them).
	o.Created = time.Unix(0, 0)
	if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		sec, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ociimage: SOURCE_DATE_EPOCH=%q is not a number of seconds\n", v)
			os.Exit(2)
		}
		o.Created = time.Unix(sec, 0)
	}
	if o.Binary == "" {
		fmt.Fprintln(os.Stderr, "ociimage: -binary is required")
		os.Exit(2)
	}
	if err := build(o); err != nil {
		fmt.Fprintln(os.Stderr, "ociimage:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %s (OCI image layout, linux/%s, entrypoint %s, user %d)\n", o.Out, o.Arch, binaryPath, nonRootID)
}

// build writes the image tarball described by o.
func build(o options) error {
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return err
	}
	if err := static(bin); err != nil {
		return fmt.Errorf("%s: %w", o.Binary, err)
	}
	ca, n, err := caBundle()
	if err != nil {
		return err
	}
	if n < 50 {
		return fmt.Errorf("the CA bundle has only %d roots", n)
	}
	rootfs, err := rootFS(bin, ca, o.Created)
	if err != nil {
		return err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(rootfs)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	if img, err = mutate.AppendLayers(img, layer); err != nil {
		return fmt.Errorf("append layer: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", o.Arch
	cfg.Created = v1.Time{Time: o.Created.UTC()}
	labels := map[string]string{
		"org.opencontainers.image.title":       "lsqbridge",
		"org.opencontainers.image.description": "Keeps LimeChat tickets and LeadSquared leads/opportunities in step",
		"org.opencontainers.image.source":      "https://github.com/lsqbridge/lsqbridge",
	}
	if o.Version != "" {
		labels["org.opencontainers.image.version"] = o.Version
	}
	cfg.Config = v1.Config{
		Entrypoint: []string{binaryPath},
		Cmd:        []string{"serve"},
		User:       fmt.Sprintf("%d:%d", nonRootID, nonRootID),
		WorkingDir: "/",
		Env: []string{
			"SSL_CERT_FILE=" + caPath,
			// Listen on every interface inside the container (the binary's
			// default, 127.0.0.1, is unreachable from outside it).
			"LSQBRIDGE_LISTEN=:8080",
		},
		ExposedPorts: map[string]struct{}{port: {}},
		Labels:       labels,
		StopSignal:   "SIGTERM",
	}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return writeOCITarball(img, o.Out, o.Version)
}

// static refuses a binary that needs a dynamic loader: the image has none.
func static(bin []byte) error {
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return fmt.Errorf("not a linux binary: %w", err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("dynamically linked: build it with CGO_ENABLED=0 GOOS=linux")
		}
	}
	return nil
}

// caBundle returns the unconstrained NSS roots as PEM and their count.
func caBundle() ([]byte, int, error) {
	var buf bytes.Buffer
	n := 0
	for r := range bundle.Roots() {
		if r.Constraint != nil {
			continue
		}
		if _, err := x509.ParseCertificate(r.Certificate); err != nil {
			return nil, 0, fmt.Errorf("CA bundle: %w", err)
		}
		if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate}); err != nil {
			return nil, 0, err
		}
		n++
	}
	return buf.Bytes(), n, nil
}

// rootFS is the image's only layer, as an uncompressed tar with fixed
// times and owners, so the same inputs give the same image digest.
func rootFS(bin, ca []byte, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body []byte) error {
		h.ModTime, h.Format = mtime.UTC(), tar.FormatPAX
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err := tw.Write(body)
		return err
	}
	dir := func(name string, mode int64, owner int) *tar.Header {
		return &tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, Uid: owner, Gid: owner}
	}
	file := func(name string, mode int64) *tar.Header {
		return &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode}
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", nonRootID, nonRootID)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", nonRootID)
	entries := []struct {
		h    *tar.Header
		body []byte
	}{
		{dir("etc/", 0o755, 0), nil},
		{file("etc/passwd", 0o644), []byte(passwd)},
		{file("etc/group", 0o644), []byte(group)},
		{dir("etc/ssl/", 0o755, 0), nil},
		{dir("etc/ssl/certs/", 0o755, 0), nil},
		{file(caPath[1:], 0o644), ca},
		{dir("home/", 0o755, 0), nil},
		{dir("home/nonroot/", 0o700, nonRootID), nil},
		{dir("tmp/", 0o1777, 0), nil},
		// Owned by root, so the process cannot change its own binary.
		{file(binaryPath[1:], 0o755), bin},
	}
	for _, e := range entries {
		if err := add(e.h, e.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeOCITarball writes img as an OCI image layout (oci-layout,
// index.json, blobs/sha256/…) into a tar file at out.
func writeOCITarball(img v1.Image, out, version string) error {
	dir, err := os.MkdirTemp("", "lsqbridge-oci-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	ref := "lsqbridge:" + version
	if version == "" {
		ref = "lsqbridge:latest"
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})); err != nil {
		return fmt.Errorf("write image layout: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	var names []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && path != dir {
			names = append(names, path)
		}
		return err
	})
	slices.Sort(names)
	for _, path := range names {
		if err != nil {
			break
		}
		err = addToTar(tw, dir, path)
	}
	if cerr := tw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", out, err)
	}
	return os.Rename(tmp, out)
}

func addToTar(tw *tar.Writer, root, path string) error {
	info, err := os.Lstat(path)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return err
	}
	h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: time.Unix(0, 0).UTC(), Format: tar.FormatPAX}
	switch {
	case info.IsDir():
		h.Typeflag, h.Name, h.Mode = tar.TypeDir, h.Name+"/", 0o755
		return tw.WriteHeader(h)
	case info.Mode().IsRegular():
		h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o644, info.Size()
	default:
		return errors.New("unexpected file in the image layout: " + rel)
	}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}
