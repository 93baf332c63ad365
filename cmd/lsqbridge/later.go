package main

import "errors"

var errLater = errors.New("not implemented yet")

func cmdBench(e *env, args []string) error { return errLater }
