package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/lsqbridge/lsqbridge/adapters/fakehooks"
)

// cmdFake runs one platform fake as its own process, with the demo people
// and the /_person/ API: "a real integration" for `lsqbridge uat` and for
// trying lsqbridge across processes. Its credentials are the sandbox's demo
// ones (see `lsqbridge fake leadsquared -h`).
func cmdFake(e *env, args []string) error {
	if len(args) == 0 || (args[0] != "leadsquared" && args[0] != "limechat") {
		return errors.New("usage: lsqbridge fake leadsquared|limechat [--listen ADDR]")
	}
	fs := e.flagSet("fake " + args[0])
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	hooks := fakehooks.New(nil)
	defer hooks.Close()
	var h http.Handler
	switch args[0] {
	case "leadsquared":
		f := newDemoLeadSquared(hooks, true, nil)
		defer f.Close()
		h = withPerson(f, leadSquaredPerson(f))
	case "limechat":
		f := newDemoLimeChat(hooks, nil)
		defer f.Close()
		h = withPerson(f, limeChatPerson(f))
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-e.ctx.Done()
		_ = srv.Close()
	}()
	fmt.Fprintf(e.stdout, "%s fake listening on http://%s\n", args[0], ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
