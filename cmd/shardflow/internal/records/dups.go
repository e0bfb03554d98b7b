package records

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// checkDuplicates returns an error naming the first object member that
// appears twice in one object of b, which must be valid JSON (decode it
// first). Decoding such an object keeps one of the two values and silently
// drops the other; the input is refused instead. fields says b is a whole
// JSONL line, whose top-level members are its fields.
func checkDuplicates(b []byte, fields bool) error {
	// One frame per open object or array (names nil, isObj false).
	type frame struct {
		isObj   bool
		wantKey bool
		names   []string        // the members so far, while few
		set     map[string]bool // and once many
	}
	var stack []frame
	for i := 0; i < len(b); i++ {
		top := len(stack) - 1
		switch b[i] {
		case '{':
			stack = append(stack, frame{isObj: true, wantKey: true})
		case '[':
			stack = append(stack, frame{})
		case '}', ']':
			stack = stack[:top]
		case ',':
			if top >= 0 && stack[top].isObj {
				stack[top].wantKey = true
			}
		case '"':
			end := stringEnd(b, i)
			if top >= 0 && stack[top].wantKey {
				f := &stack[top]
				f.wantKey = false
				name := memberName(b[i : end+1])
				dup := false
				if f.set != nil {
					dup = f.set[name]
					f.set[name] = true
				} else {
					dup = slices.Contains(f.names, name)
					f.names = append(f.names, name)
					if len(f.names) > 16 {
						f.set = make(map[string]bool, 2*len(f.names))
						for _, n := range f.names {
							f.set[n] = true
						}
					}
				}
				if dup {
					if fields && top == 0 {
						return fmt.Errorf("field %q appears twice", name)
					}
					return fmt.Errorf("member %q appears twice in one object", name)
				}
			}
			i = end
		}
	}
	return nil
}

// stringEnd returns the index of the quote closing the JSON string that
// opens at b[start].
func stringEnd(b []byte, start int) int {
	for i := start + 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return len(b) - 1
}

// memberName returns the value of a quoted JSON string, unescaping it only
// if it has escapes ("a" and "\u0061" name the same member).
func memberName(q []byte) string {
	if bytes.IndexByte(q, '\\') < 0 {
		return string(q[1 : len(q)-1])
	}
	var s string
	if json.Unmarshal(q, &s) != nil {
		return string(q)
	}
	return s
}
