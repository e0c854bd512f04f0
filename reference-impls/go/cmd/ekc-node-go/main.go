// Command ekc-node-go is the Go reference node for EK-ROJ v1 and EK-KOR v2. It takes no
// arguments: everything comes from EKC_* environment variables (control.md CTL-IMG-1).
package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"ekcnode/shell"
)

func main() {
	if len(os.Args) > 1 {
		fmt.Fprintln(os.Stderr, "ekc-node-go: takes no arguments; configure it with EKC_* environment variables")
		os.Exit(2)
	}
	set, err := shell.LoadSettings(os.LookupEnv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ekc-node-go: "+err.Error())
		os.Exit(2)
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		fmt.Fprintln(os.Stderr, "ekc-node-go: no entropy for the incarnation: "+err.Error())
		os.Exit(1)
	}
	node, err := shell.Start(set, os.Stdout, binary.LittleEndian.Uint32(b[:]))
	if err != nil {
		fmt.Fprintln(os.Stderr, "ekc-node-go: "+err.Error())
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	node.Run(ctx) // CTL-IMG-3: returns promptly on SIGTERM
}
