package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/obgate/obgate/internal/jwttest"
	"github.com/obgate/obgate/internal/redistest"
)

// TestClusterSignedRequestAcceptedOnceAcrossInstances: a signed request accepted on instance A is
// refused on B and C (the replay store is Redis, shared) and reaches the backend once.
func TestClusterSignedRequestAcceptedOnceAcrossInstances(t *testing.T) {
	w := newWorld(t)
	in := w.start(3)
	sig := w.signedGet("/pay/1")
	if r := w.do(in[0], "GET", "/pay/1", nil, "Authorization", "Bearer "+sig); r.status != http.StatusOK {
		t.Fatalf("first use on A: status %d %v: %s", r.status, r.err, r.body)
	}
	for _, other := range in {
		r := w.do(other, "GET", "/pay/1", nil, "Authorization", "Bearer "+sig)
		if r.status != http.StatusUnauthorized {
			t.Errorf("replay on %s: status %d %v, want 401: %s", other.name, r.status, r.err, r.body)
		}
	}
	if n := w.hits.Load(); n != 1 {
		t.Fatalf("the backend saw %d requests, want 1: a replay reached it", n)
	}
	// A fresh signature accepted on C is refused on A.
	sig2 := w.signedGet("/pay/2")
	if r := w.do(in[2], "GET", "/pay/2", nil, "Authorization", "Bearer "+sig2); r.status != http.StatusOK {
		t.Fatalf("fresh signature on C: status %d %v", r.status, r.err)
	}
	if r := w.do(in[0], "GET", "/pay/2", nil, "Authorization", "Bearer "+sig2); r.status != http.StatusUnauthorized {
		t.Errorf("its replay on A: status %d, want 401", r.status)
	}
	if n := w.hits.Load(); n != 2 {
		t.Fatalf("the backend saw %d requests, want 2", n)
	}
}

// TestClusterOneCDRRegistrationPerSoftware: 100 concurrent cdr registrations of one software_id
// spread over three instances: exactly one 201, and storage holds exactly that client and its
// index, every file whole.
func TestClusterOneCDRRegistrationPerSoftware(t *testing.T) {
	w := newWorld(t)
	in := w.start(3)
	const n = 100
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = w.cdrRequest("one-software")
	}
	statuses := make([]response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			statuses[i] = w.do(in[i%3], "POST", "/cdr/register", bodies[i], "Content-Type", "application/jwt")
		})
	}
	wg.Wait()
	counts := map[int]int{}
	var created map[string]any
	for _, r := range statuses {
		if r.err != nil {
			t.Fatalf("POST: %v", r.err)
		}
		counts[r.status]++
		if r.status == http.StatusCreated {
			created = r.json(t)
		}
	}
	if counts[http.StatusCreated] != 1 || counts[http.StatusBadRequest] != n-1 {
		t.Fatalf("statuses %v, want exactly one 201 and %d 400", counts, n-1)
	}
	clients, index := w.storedClients()
	if len(clients) != 1 || clients[created["client_id"].(string)] == nil {
		t.Fatalf("stored clients %v, want only the one created (%v)", keysOf(clients), created["client_id"])
	}
	if len(index) != 1 {
		t.Fatalf("stored software indexes %v, want one", index)
	}
	for _, id := range index {
		if id != created["client_id"] {
			t.Fatalf("the software index names %q, want the created client %v", id, created["client_id"])
		}
	}
}

// TestClusterClientRegisteredOnAManagedOnB: the client is read from the shared storage on every
// management request, so any instance manages it; a DELETE on B ends it on C at once.
func TestClusterClientRegisteredOnAManagedOnB(t *testing.T) {
	w := newWorld(t)
	in := w.start(3)
	r := w.register(in[0], "managed-software")
	if r.status != http.StatusCreated {
		t.Fatalf("register on A: status %d %v: %s", r.status, r.err, r.body)
	}
	c := r.json(t)
	id, tok := c["client_id"].(string), c["registration_access_token"].(string)
	path := "/cdr/register/" + id
	if g := w.do(in[1], "GET", path, nil, "Authorization", "Bearer "+tok); g.status != http.StatusOK || g.json(t)["client_id"] != id {
		t.Fatalf("GET on B: status %d: %s", g.status, g.body)
	}
	if d := w.do(in[1], "DELETE", path, nil, "Authorization", "Bearer "+tok); d.status != http.StatusNoContent {
		t.Fatalf("DELETE on B: status %d: %s", d.status, d.body)
	}
	if g := w.do(in[2], "GET", path, nil, "Authorization", "Bearer "+tok); g.status != http.StatusUnauthorized {
		t.Fatalf("GET on C after the DELETE on B: status %d, want 401: %s", g.status, g.body)
	}
	// After the DELETE the software may register again, on any instance.
	if again := w.register(in[2], "managed-software"); again.status != http.StatusCreated {
		t.Fatalf("register again on C: status %d: %s", again.status, again.body)
	}
}

// TestClusterRegisteredKeyReachesEveryInstance: a key registered through jwt_keys on A verifies
// tokens on C within the registry's refresh interval (5s; polled for at most syncTimeout); its
// deletion on B reaches C the same way.
func TestClusterRegisteredKeyReachesEveryInstance(t *testing.T) {
	w := newWorld(t)
	in := w.start(3)
	tpp := jwttest.NewEC(t, "ES256")
	claims := jwttest.Claims(tppIssuer, apiAudience, "alice", time.Now())
	token := tpp.Token(t, claims, nil)
	if r := w.do(in[2], "GET", "/api/accounts", nil, "Authorization", "Bearer "+token); r.status != http.StatusUnauthorized {
		t.Fatalf("before the key is registered, C: status %d, want 401", r.status)
	}
	jwk, _ := json.Marshal(tpp.JWK(t, true))
	if r := w.do(in[0], "POST", "/registry/tpp/keys", jwk, "Content-Type", "application/json"); r.status != http.StatusCreated {
		t.Fatalf("register the key on A: status %d: %s", r.status, r.body)
	}
	waitStatus(t, "a token signed with the key registered on A, on C", http.StatusOK, func() int {
		return w.do(in[2], "GET", "/api/accounts", nil, "Authorization", "Bearer "+token).status
	})
	if r := w.do(in[1], "DELETE", "/registry/tpp/keys/"+tpp.KID, nil); r.status != http.StatusNoContent {
		t.Fatalf("delete the key on B: status %d: %s", r.status, r.body)
	}
	waitStatus(t, "the token on C after the key was deleted on B", http.StatusUnauthorized, func() int {
		return w.do(in[2], "GET", "/api/accounts", nil, "Authorization", "Bearer "+token).status
	})
}

// TestClusterRedisDownFailsClosedThenRecovers: with Redis stopped, every request that needs a
// single-use check gets 503 with Retry-After on every instance and nothing reaches the backend;
// when Redis is back (with its data: it runs with an append-only file, as production should),
// traffic passes again without a reload, and what was claimed before the outage is still refused.
func TestClusterRedisDownFailsClosedThenRecovers(t *testing.T) {
	w := newWorld(t, redistest.WithPersistence())
	in := w.start(3)
	before := w.signedGet("/pay/before")
	if r := w.do(in[0], "GET", "/pay/before", nil, "Authorization", "Bearer "+before); r.status != http.StatusOK {
		t.Fatalf("before the outage: status %d %v", r.status, r.err)
	}
	w.redis.Stop()
	hits := w.hits.Load()
	for _, inst := range in {
		sig := w.signedGet("/pay/down-" + inst.name)
		r := w.do(inst, "GET", "/pay/down-"+inst.name, nil, "Authorization", "Bearer "+sig)
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
			t.Errorf("signed request on %s with Redis down: status %d, Retry-After %q, want 503 with Retry-After: %s",
				inst.name, r.status, r.header.Get("Retry-After"), r.body)
		}
		reg := w.register(inst, "down-software-"+inst.name)
		if reg.status != http.StatusServiceUnavailable || reg.header.Get("Retry-After") == "" {
			t.Errorf("registration on %s with Redis down: status %d, want 503 with Retry-After: %s", inst.name, reg.status, reg.body)
		}
	}
	if got := w.hits.Load(); got != hits {
		t.Fatalf("the backend saw %d requests while Redis was down, want none", got-hits)
	}
	if clients, _ := w.storedClients(); len(clients) != 0 {
		t.Fatalf("registrations stored while Redis was down: %v", keysOf(clients))
	}
	if err := w.redis.Restart(); err != nil {
		t.Fatal(err)
	}
	for _, inst := range in {
		waitStatus(t, "a fresh signed request on "+inst.name+" after Redis came back", http.StatusOK, func() int {
			path := fmt.Sprintf("/pay/after-%s-%d", inst.name, w.seq.Add(1))
			return w.do(inst, "GET", path, nil, "Authorization", "Bearer "+w.signedGet(path)).status
		})
	}
	if r := w.do(in[1], "GET", "/pay/before", nil, "Authorization", "Bearer "+before); r.status != http.StatusUnauthorized {
		t.Errorf("the request accepted before the outage, replayed after it on B: status %d, want 401", r.status)
	}
	if r := w.register(in[1], "after-software"); r.status != http.StatusCreated {
		t.Errorf("registration after Redis came back: status %d: %s", r.status, r.body)
	}
}

// TestClusterInstanceKilledDuringRegistrations: an instance SIGKILLed in the middle of
// registrations loses no registration that was answered 201 and duplicates none: every client a
// 201 announced is managed by the survivors, each software has at most one client, every stored
// client is held by its software's index, and every file is whole.
func TestClusterInstanceKilledDuringRegistrations(t *testing.T) {
	w := newWorld(t)
	in := w.start(3)
	const n = 60
	results := make([]response, n)
	var wg sync.WaitGroup
	var once sync.Once
	var answered sync.WaitGroup
	answered.Add(n / 4)
	var count sync.Mutex
	done := 0
	for i := range n {
		wg.Go(func() {
			results[i] = w.register(in[i%3], fmt.Sprintf("soft-%d", i))
			count.Lock()
			done++
			if done <= n/4 {
				answered.Done()
			}
			count.Unlock()
		})
	}
	// Kill B once a quarter of the registrations were answered, while the rest are in flight.
	waitGroupTimeout(t, &answered, requestTimeout, "the first quarter of the registrations")
	once.Do(in[1].kill)
	wg.Wait()

	survivors := []*instance{in[0], in[2]}
	created, failed := 0, 0
	for i, r := range results {
		switch {
		case r.err != nil || r.status == 0 || r.status == http.StatusServiceUnavailable:
			failed++ // the instance died under the request (or asked for a retry): the client does not know
			continue
		case r.status != http.StatusCreated:
			t.Errorf("registration %d on %s: status %d: %s", i, in[i%3].name, r.status, r.body)
			continue
		}
		created++
		c := r.json(t)
		id, tok := c["client_id"].(string), c["registration_access_token"].(string)
		g := w.do(survivors[i%2], "GET", "/cdr/register/"+id, nil, "Authorization", "Bearer "+tok)
		if g.status != http.StatusOK {
			t.Errorf("client %s announced with 201 is not managed by %s: status %d (lost)", id, survivors[i%2].name, g.status)
		}
	}
	retries := map[string]string{}
	// A client whose registration failed with the instance retries on a survivor (fresh jti):
	// either it registers now, or the dead instance had stored it completely (cdr: one per
	// software, 400), never a second client.
	for i, r := range results {
		if r.err == nil && r.status != 0 && r.status != http.StatusServiceUnavailable {
			continue
		}
		retry := w.register(in[0], fmt.Sprintf("soft-%d", i))
		for attempt := 0; attempt < 3 && retry.status == http.StatusServiceUnavailable; attempt++ {
			retry = w.register(in[2], fmt.Sprintf("soft-%d", i))
		}
		retries[fmt.Sprintf("soft-%d", i)] = fmt.Sprintf("first on %s: %v; retry on A: %d %s", in[i%3].name, r.err, retry.status, retry.body)
		if retry.status != http.StatusCreated && retry.status != http.StatusBadRequest {
			t.Errorf("retry of registration %d: status %d: %s", i, retry.status, retry.body)
		}
	}
	clients, index := w.storedClients()
	perSoftware := map[string]int{}
	for id, c := range clients {
		sw, _ := c["software_id"].(string)
		perSoftware[sw]++
		held := false
		for _, cid := range index {
			held = held || cid == id
		}
		if !held {
			t.Errorf("client %s of %s is held by no software index (an orphan a second registration could duplicate)", id, sw)
		}
	}
	for sw, k := range perSoftware {
		if k > 1 {
			var detail []string
			for id, c := range clients {
				if c["software_id"] == sw {
					detail = append(detail, fmt.Sprintf("%s issued %v", id, c["client_id_issued_at"]))
				}
			}
			t.Errorf("software %s has %d clients (%v), want at most 1; %s", sw, k, detail, retries[sw])
		}
	}
	if len(perSoftware) != n {
		t.Errorf("%d softwares registered after the retries, want %d", len(perSoftware), n)
	}
	t.Logf("%d registrations answered 201, %d cut off by the SIGKILL and retried", created, failed)
}

// waitStatus polls check until it returns want, for at most syncTimeout.
func waitStatus(t *testing.T, what string, want int, check func() int) {
	t.Helper()
	deadline := time.Now().Add(syncTimeout)
	for {
		got := check()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: status %d after %v, want %d", what, got, syncTimeout, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitGroupTimeout waits for wg for at most d.
func waitGroupTimeout(t *testing.T, wg *sync.WaitGroup, d time.Duration, what string) {
	t.Helper()
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatal(errors.New("timed out waiting for " + what))
	}
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
