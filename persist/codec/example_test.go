package codec_test

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/shardflow/shardflow/persist/codec"
)

func Example() {
	var keys codec.Int64
	a := keys.Encode(nil, -5)
	b := keys.Encode(nil, 3)
	fmt.Printf("%x %x ordered=%v\n", a, b, bytes.Compare(a, b) < 0)

	v, err := keys.Decode(a)
	fmt.Println(v, err)

	_, err = keys.Decode([]byte{1, 2, 3})
	fmt.Println(err, errors.Is(err, codec.ErrMalformed))
	// Output:
	// 7ffffffffffffffb 8000000000000003 ordered=true
	// -5 <nil>
	// codec: int64: want 8 bytes, got 3 true
}

func ExampleJSON() {
	type Point struct{ X, Y int }
	var c codec.Codec[Point] = codec.JSON[Point]{}
	enc := c.Encode(nil, Point{X: 1, Y: 2})
	fmt.Println(string(enc))

	p, err := c.Decode([]byte(`{"X":4,"Y":5,"Z":6}`)) // unknown fields are ignored
	fmt.Println(p, err)

	_, err = c.Decode([]byte(`{"X":1`))
	var de *codec.DecodeError
	fmt.Println(errors.As(err, &de), errors.Is(err, codec.ErrMalformed))
	// Output:
	// {"X":1,"Y":2}
	// {4 5} <nil>
	// true true
}
