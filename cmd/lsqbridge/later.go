package main

func cmdReconcile(e *env, args []string) error { return errNotYet }
func cmdUAT(e *env, args []string) error       { return errNotYet }
func cmdBench(e *env, args []string) error     { return errNotYet }
