package main

import "errors"

var errNotYet = errors.New("not implemented yet")

func cmdAgents(e *env, args []string) error { return errNotYet }
func cmdOutbox(e *env, args []string) error { return errNotYet }
func cmdAudit(e *env, args []string) error  { return errNotYet }
