package persisttest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/shardflow/shardflow/persist/location"
)

// modelOps is how many random operations each model test performs.
const modelOps = 300

// modelSeed picks a seed for a model test and logs it, so a failure can be
// replayed by hard-coding it.
func modelSeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	t.Logf("model seed %d", seed)
	return seed
}

// consensusModel runs random operations against the store and against a
// map of slices, comparing every result.
func consensusModel(t *testing.T, c location.Consensus) {
	seed := modelSeed(t)
	rng := rand.New(rand.NewPCG(seed, seed))
	ctx := t.Context()
	keys := []string{"a", "b", "c/d"}
	model := map[string][]location.VersionedData{}
	head := func(k string) *location.SeqNo {
		if log := model[k]; len(log) > 0 {
			return &log[len(log)-1].SeqNo
		}
		return nil
	}
	for i := range modelOps {
		k := keys[rng.IntN(len(keys))]
		step := fmt.Sprintf("seed %d op %d", seed, i)
		switch op := rng.IntN(10); {
		case op < 5: // compare-and-set, usually with the right expectation
			expected := head(k)
			if rng.IntN(4) == 0 {
				if expected == nil || rng.IntN(2) == 0 {
					expected = seq(location.SeqNo(rng.IntN(20)))
				} else {
					expected = nil
				}
			}
			next := location.SeqNo(1 + rng.IntN(3))
			if expected != nil {
				next += *expected
			}
			data := fmt.Appendf(nil, "%s-%d", k, i)
			res, err := c.CompareAndSet(ctx, k, expected, location.VersionedData{SeqNo: next, Data: data})
			if err != nil {
				t.Fatalf("%s: CompareAndSet: %v", step, err)
			}
			want := location.ExpectationMismatch
			if h := head(k); (h == nil && expected == nil) || (h != nil && expected != nil && *h == *expected) {
				want = location.Committed
				model[k] = append(model[k], location.VersionedData{SeqNo: next, Data: data})
			}
			if res != want {
				t.Fatalf("%s: CompareAndSet(%s, %s, %d) = %v, model says %v", step, k, fmtSeq(expected), next, res, want)
			}
		case op < 6: // truncate
			log := model[k]
			s := location.SeqNo(rng.IntN(40))
			n, err := c.Truncate(ctx, k, s)
			if h := head(k); h == nil || s > *h {
				if err == nil {
					t.Fatalf("%s: Truncate(%s, %d) beyond head %s succeeded", step, k, s, fmtSeq(h))
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: Truncate(%s, %d): %v", step, k, s, err)
			}
			i := slices.IndexFunc(log, func(v location.VersionedData) bool { return v.SeqNo >= s })
			model[k] = log[i:]
			if n != i {
				t.Fatalf("%s: Truncate(%s, %d) deleted %d, model says %d", step, k, s, n, i)
			}
		case op < 8: // scan
			from, limit := location.SeqNo(rng.IntN(40)), rng.IntN(5)
			got, err := c.Scan(ctx, k, from, limit)
			if err != nil {
				t.Fatalf("%s: Scan: %v", step, err)
			}
			var want []location.VersionedData
			for _, v := range model[k] {
				if v.SeqNo >= from && len(want) < limit {
					want = append(want, v)
				}
			}
			if !equalVersions(got, want) {
				t.Fatalf("%s: Scan(%s, %d, %d) = %v, model says %v", step, k, from, limit, got, want)
			}
		case op < 9: // head
			got, ok, err := c.Head(ctx, k)
			if err != nil {
				t.Fatalf("%s: Head: %v", step, err)
			}
			log := model[k]
			if ok != (len(log) > 0) || ok && !equalVersions([]location.VersionedData{got}, log[len(log)-1:]) {
				t.Fatalf("%s: Head(%s) = %v, %v; model says %v", step, k, got, ok, log)
			}
		default: // list keys
			got, err := c.ListKeys(ctx)
			if err != nil {
				t.Fatalf("%s: ListKeys: %v", step, err)
			}
			var want []string
			for k, log := range model {
				if len(log) > 0 {
					want = append(want, k)
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("%s: ListKeys = %v, model says %v", step, got, want)
			}
		}
	}
}

func equalVersions(a, b []location.VersionedData) bool {
	return slices.EqualFunc(a, b, func(x, y location.VersionedData) bool {
		return x.SeqNo == y.SeqNo && bytes.Equal(x.Data, y.Data)
	})
}

// blobModel runs random operations against the store and against a map.
func blobModel(t *testing.T, b location.Blob) {
	seed := modelSeed(t)
	rng := rand.New(rand.NewPCG(seed, seed))
	ctx := t.Context()
	// No key is a directory of another ("a" and "a/b"): see the package
	// documentation.
	keys := []string{"a", "ab", "c/b", "c/d", "e/f/x"}
	prefixes := []string{"", "a", "c/", "e/", "z"}
	model := map[string][]byte{}
	for i := range modelOps / 2 {
		k := keys[rng.IntN(len(keys))]
		step := fmt.Sprintf("seed %d op %d", seed, i)
		switch op := rng.IntN(10); {
		case op < 4:
			v := bytes.Repeat([]byte{byte(i)}, rng.IntN(100))
			if err := b.Set(ctx, k, v); err != nil {
				t.Fatalf("%s: Set: %v", step, err)
			}
			model[k] = v
		case op < 6:
			existed, err := b.Delete(ctx, k)
			_, want := model[k]
			if err != nil || existed != want {
				t.Fatalf("%s: Delete(%s) = %v, %v; model says %v", step, k, existed, err, want)
			}
			delete(model, k)
		case op < 8:
			v, ok, err := b.Get(ctx, k)
			want, wantOK := model[k]
			if err != nil || ok != wantOK || !bytes.Equal(v, want) {
				t.Fatalf("%s: Get(%s) = %d bytes, %v, %v; model says %d bytes, %v", step, k, len(v), ok, err, len(want), wantOK)
			}
		default:
			p := prefixes[rng.IntN(len(prefixes))]
			got := map[string]int64{}
			if err := b.List(ctx, p, func(m location.BlobMeta) error { got[m.Key] = m.Size; return nil }); err != nil {
				t.Fatalf("%s: List: %v", step, err)
			}
			want := map[string]int64{}
			for k, v := range model {
				if len(k) >= len(p) && k[:len(p)] == p {
					want[k] = int64(len(v))
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s: List(%q) = %v, model says %v", step, p, got, want)
			}
		}
	}
}
