package frontier

import (
	"slices"
	"testing"
)

// decodeUpdates turns fuzz bytes into chunks of updates over small products:
// three bytes an update (outer, inner, diff), a zero outer byte ending the
// chunk.
func decodeUpdates(data []byte) [][]Update[pair] {
	var chunks [][]Update[pair]
	var cur []Update[pair]
	for len(data) >= 3 {
		o, i, d := data[0], data[1], data[2]
		data = data[3:]
		if o == 0 {
			chunks = append(chunks, cur)
			cur = nil
			continue
		}
		cur = append(cur, Update[pair]{NewProduct(Time(o%5), Time(i%5)), int64(int8(d)) % 3})
	}
	return append(chunks, cur)
}

func FuzzMutableAntichain(f *testing.F) {
	f.Add([]byte{1, 1, 1, 2, 2, 1, 0, 0, 0, 1, 1, 255})
	f.Add([]byte{3, 0, 255, 3, 0, 1, 0, 0, 0, 2, 4, 1, 4, 2, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		if msg, ok := checkMutable(decodeUpdates(data)); !ok {
			t.Fatal(msg)
		}
	})
}

func FuzzChangeBatch(f *testing.F) {
	f.Add([]byte{1, 1, 1, 1, 1, 255, 2, 3, 7})
	f.Fuzz(func(t *testing.T, data []byte) {
		var cb ChangeBatch[pair]
		var all []Update[pair]
		for _, chunk := range decodeUpdates(data) {
			cb.Extend(chunk...)
			all = append(all, chunk...)
			if got, want := cb.Updates(), sumModel(all); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("consolidated %v, model %v", got, want)
			}
		}
	})
}
