package cli

import (
	"strings"
	"testing"
)

// A part in a format newer than this shardflow reads, intact by size and
// checksum, is neither corrupt nor a failure: the JSON lists it apart and
// says ok, and the table says it was checked by size and checksum only.
func TestVerifyUnknownFormatIsNotCorrupt(t *testing.T) {
	rep := verifyReport{Parts: 3, Unknown: []string{"s/p/new"}}
	v := verifyView(rep)
	if !v.OK || len(v.Corrupt) != 0 || len(v.Unknown) != 1 || v.Unknown[0] != "s/p/new" {
		t.Fatalf("verify JSON %+v: want ok, nothing corrupt, s/p/new unknown", v)
	}
	var sb strings.Builder
	if err := printInspectTable(&sb, inspectJSON{verify: &rep, Verify: v}); err != nil {
		t.Fatal(err)
	}
	out := sb.String()
	if !strings.Contains(out, "verify: all 3 parts present and intact") || !strings.Contains(out, "1 of them in a format newer than this shardflow reads") {
		t.Fatalf("table:\n%s", out)
	}
}
