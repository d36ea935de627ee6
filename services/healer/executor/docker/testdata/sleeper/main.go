// Command sleeper is the process of the Docker executor's test image: it
// waits for SIGTERM and exits at once, so a restart is quick.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	<-ch
}
