// Command setup prepares what the compose deployment needs on the host
// and must never be baked into an image:
//
//	go run ./setup secrets [-dir secrets]   env files with random passwords (kept if present)
//	go run ./setup certs [-dir tls]         a local CA and the NATS server certificate (kept if present)
//
// `make up` runs the first, `make certs` the second.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	switch os.Args[1] {
	case "secrets":
		dir := fs.String("dir", "secrets", "directory of the env files")
		_ = fs.Parse(os.Args[2:])
		written, err := writeSecrets(*dir)
		if err != nil {
			fail(err)
		}
		for _, w := range written {
			fmt.Println("wrote", w)
		}
	case "certs":
		dir := fs.String("dir", "tls", "directory of the CA and certificates")
		_ = fs.Parse(os.Args[2:])
		made, err := writeCerts(*dir)
		if err != nil {
			fail(err)
		}
		if made {
			fmt.Println("wrote a local CA and the NATS server certificate in", *dir)
		} else {
			fmt.Println("kept the certificates in", *dir, "(remove the directory to make new ones)")
		}
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: setup secrets [-dir secrets] | setup certs [-dir tls]")
	os.Exit(2)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
