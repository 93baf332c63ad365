package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/lsqbridge/lsqbridge/adapters/fakehooks"
)

// RunFake runs one platform fake ("leadsquared" or "limechat") as its own
// process, with the demo people and the /_person/ API: "a real integration"
// for `lsqbridge uat` and for trying lsqbridge across processes. Its
// credentials are the sandbox's demo ones. It says where it listens on w
// and serves until ctx ends.
func RunFake(ctx context.Context, w io.Writer, platform, listen string) error {
	hooks := fakehooks.New(nil)
	defer hooks.Close()
	var h http.Handler
	switch platform {
	case "leadsquared":
		f := NewLeadSquared(hooks, true, nil)
		defer f.Close()
		h = withPerson(f, leadSquaredPerson(f))
	case "limechat":
		f := NewLimeChat(hooks, nil)
		defer f.Close()
		h = withPerson(f, limeChatPerson(f))
	default:
		return fmt.Errorf("no fake of %q (leadsquared or limechat)", platform)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	fmt.Fprintf(w, "%s fake listening on http://%s\n", platform, ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
