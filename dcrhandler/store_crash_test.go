package dcrhandler

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/certmagic"
)

// crashingStorage stands for an instance that dies after a number of writes: every write (Store,
// Delete) past the budget fails and changes nothing, as if the process were gone.
type crashingStorage struct {
	certmagic.Storage
	mu     sync.Mutex
	writes int
}

var errCrashed = errors.New("the instance died")

func (c *crashingStorage) spend() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writes <= 0 {
		return errCrashed
	}
	c.writes--
	return nil
}

func (c *crashingStorage) Store(ctx context.Context, key string, value []byte) error {
	if err := c.spend(); err != nil {
		return err
	}
	return c.Storage.Store(ctx, key, value)
}

func (c *crashingStorage) Delete(ctx context.Context, key string) error {
	if err := c.spend(); err != nil {
		return err
	}
	return c.Storage.Delete(ctx, key)
}

// TestCDRRegistrationCrashLeavesNoOrphanClient: an instance that dies between the two writes of a
// cdr registration must not leave a client record that no software index holds (another
// registration of the software would then make a second client). After the crash the software
// registers once, and storage holds exactly one client for it.
func TestCDRRegistrationCrashLeavesNoOrphanClient(t *testing.T) {
	ctx := context.Background()
	disk := &certmagic.FileStorage{Path: t.TempDir()}
	crashed := newClientStore(&crashingStorage{Storage: disk, writes: 1}, "scope")
	first := &clientRecord{ClientID: "client-crashed", SoftwareID: "soft-1", TokenSHA256: tokenHash("t"), Metadata: map[string]any{}}
	if err := crashed.create(ctx, first, true); !errors.Is(err, errCrashed) {
		t.Fatalf("create on the dying instance: error = %v, want the crash", err)
	}
	survivor := newClientStore(disk, "scope")
	second := &clientRecord{ClientID: "client-ok", SoftwareID: "soft-1", TokenSHA256: tokenHash("t"), Metadata: map[string]any{}}
	if err := survivor.create(ctx, second, true); err != nil {
		t.Fatalf("registration after the crash: %v", err)
	}
	if err := survivor.create(ctx, &clientRecord{ClientID: "client-dup", SoftwareID: "soft-1", TokenSHA256: tokenHash("t"), Metadata: map[string]any{}}, true); !errors.Is(err, errSoftwareRegistered) {
		t.Fatalf("second registration of the software: error = %v, want errSoftwareRegistered", err)
	}
	keys, err := disk.List(ctx, survivor.prefix+"/clients", false)
	if err != nil {
		t.Fatal(err)
	}
	var clients []string
	for _, k := range keys {
		if strings.HasSuffix(k, ".json") {
			clients = append(clients, k)
		}
	}
	if len(clients) != 1 || !strings.HasSuffix(clients[0], "client-ok.json") {
		t.Fatalf("client records for the software after the crash: %v, want only client-ok", clients)
	}
}
