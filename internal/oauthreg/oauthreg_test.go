package oauthreg

import (
	"testing"

	"github.com/obgate/obgate/authserver/grant"
)

func TestPublicationsStackAcrossConfigReloads(t *testing.T) {
	serves := func(id string) bool {
		got, ok := Clients("d")
		if !ok {
			return false
		}
		_, in := got.(grant.StaticClients)[id]
		return in
	}
	withdrawOld := PublishClients("d", grant.StaticClients{"old": nil})
	withdrawNext := PublishClients("d", grant.StaticClients{"next": nil})
	if !serves("next") {
		t.Fatal("the latest publication is not served")
	}
	withdrawNext() // the new config failed to load: the running one answers again
	if !serves("old") {
		t.Fatal("the running config's publication is not served after the new one withdrew")
	}
	withdrawNext() // a second call does nothing
	if !serves("old") {
		t.Fatal("a repeated withdraw removed another publication")
	}
	withdrawOld()
	if _, ok := Clients("d"); ok {
		t.Fatal("a withdrawn name still answers")
	}
}
