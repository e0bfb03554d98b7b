package state

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/shardflow/shardflow/frontier"
	"github.com/shardflow/shardflow/persist/internal/statepb"
)

// Version is the encoding version this code writes. MinReaderVersion is the
// oldest version whose code may read what this code writes: raise it only
// for a change older code must not silently ignore.
const (
	Version          = 1
	MinReaderVersion = 1
)

// ErrCorrupt: the bytes are not a state encoding.
var ErrCorrupt = errors.New("persist: state encoding corrupt")

// ErrIncompatible: the state was written by newer code that requires a
// version of this package newer than this one to read it.
var ErrIncompatible = errors.New("persist: state requires a newer reader")

// Encode returns the durable form of s. Fields and entries of kinds this code
// does not know, kept from the decoded input, are written back unchanged.
func Encode(s State) []byte {
	if InvariantsEnabled {
		s.CheckInvariants()
	}
	msg := headerMsg(s)
	for _, b := range s.Batches {
		msg.Batches = append(msg.Batches, batchMsg(b))
	}
	msg.Readers, msg.Writers = readerMsgs(s.Readers), writerMsgs(s.Writers)
	msg.Transitions = s.Transitions
	setUnknown(msg, s.unknown)
	return marshal(nil, msg)
}

// marshal appends the deterministic encoding of m to dst.
func marshal(dst []byte, m proto.Message) []byte {
	out, err := proto.MarshalOptions{Deterministic: true}.MarshalAppend(dst, m)
	if err != nil {
		// Marshalling a well-formed message cannot fail.
		panic(fmt.Sprintf("persist: encoding state: %v", err))
	}
	return out
}

// headerMsg holds the fields of s numbered before the batches.
func headerMsg(s State) *statepb.ShardState {
	return &statepb.ShardState{
		Version:          Version,
		MinReaderVersion: max(s.minReaderVersion, MinReaderVersion),
		ShardId:          s.ShardID,
		Since:            encodeFrontier(s.Since),
		Upper:            encodeFrontier(s.Upper),
	}
}

func batchMsg(b Batch) *statepb.Batch {
	pb := &statepb.Batch{
		Lower:            encodeFrontier(b.Lower),
		Upper:            encodeFrontier(b.Upper),
		Since:            encodeFrontier(b.Since),
		WriterId:         b.WriterID,
		IdempotencyToken: b.Token,
	}
	for _, p := range b.Parts {
		pp := &statepb.Part{
			Key:             p.Key,
			Format:          statepb.PartFormat(p.Format),
			EncodedSize:     p.Bytes,
			Rows:            p.Rows,
			MinTime:         uint64(p.MinTime),
			MaxTime:         uint64(p.MaxTime),
			KeyLower:        p.KeyLower,
			KeyUpper:        p.KeyUpper,
			DiffsSum:        p.DiffsSum,
			Checksum:        p.Checksum,
			DistinctKeyVals: p.DistinctKeyVals,
			Inline:          p.Inline,
		}
		setUnknown(pp, p.unknown)
		pb.Parts = append(pb.Parts, pp)
	}
	setUnknown(pb, b.unknown)
	return pb
}

func readerMsgs(rs []Reader) []*statepb.Reader {
	var out []*statepb.Reader
	for _, r := range rs {
		pr := &statepb.Reader{
			Id:                  r.ID,
			Purpose:             r.Purpose,
			SeqnoHold:           uint64(r.SeqNoHold),
			Since:               encodeFrontier(r.Since),
			LastHeartbeatUnixMs: r.LastHeartbeatMs,
			LeaseDurationMs:     r.LeaseDurationMs,
		}
		setUnknown(pr, r.unknown)
		out = append(out, pr)
	}
	return out
}

func writerMsgs(ws []Writer) []*statepb.Writer {
	var out []*statepb.Writer
	for _, w := range ws {
		pw := &statepb.Writer{
			Id:                  w.ID,
			LastHeartbeatUnixMs: w.LastHeartbeatMs,
			LeaseDurationMs:     w.LeaseDurationMs,
			MostRecentToken:     w.MostRecentToken,
			MostRecentUpper:     encodeFrontier(w.MostRecentUpper),
		}
		setUnknown(pw, w.unknown)
		out = append(out, pw)
	}
	return out
}

// Decode parses a state version. Unknown fields anywhere are kept for the
// next Encode; an unknown part format decodes (and is refused only when the
// part is fetched). Bytes that are not a state are ErrCorrupt; a state whose
// writer demands a newer reader is ErrIncompatible.
func Decode(data []byte) (State, error) {
	var msg statepb.ShardState
	if err := proto.Unmarshal(data, &msg); err != nil {
		return State{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if msg.MinReaderVersion > Version {
		return State{}, fmt.Errorf("%w: written by version %d, needs reader version %d, this is %d",
			ErrIncompatible, msg.Version, msg.MinReaderVersion, Version)
	}
	if msg.Version == 0 {
		return State{}, fmt.Errorf("%w: no version", ErrCorrupt)
	}
	if err := checkFrontiers(&msg); err != nil {
		return State{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	s := State{
		ShardID:          msg.ShardId,
		Since:            decodeFrontier(msg.Since),
		Upper:            decodeFrontier(msg.Upper),
		Transitions:      msg.Transitions,
		minReaderVersion: msg.MinReaderVersion,
		unknown:          unknownOf(&msg),
	}
	for _, pb := range msg.Batches {
		b := Batch{
			Lower:    decodeFrontier(pb.Lower),
			Upper:    decodeFrontier(pb.Upper),
			Since:    decodeFrontier(pb.Since),
			WriterID: pb.WriterId,
			Token:    pb.IdempotencyToken,
			unknown:  unknownOf(pb),
		}
		for _, pp := range pb.Parts {
			b.Parts = append(b.Parts, Part{
				Key:             pp.Key,
				Format:          PartFormat(pp.Format),
				Bytes:           pp.EncodedSize,
				Rows:            pp.Rows,
				MinTime:         frontier.Time(pp.MinTime),
				MaxTime:         frontier.Time(pp.MaxTime),
				KeyLower:        pp.KeyLower,
				KeyUpper:        pp.KeyUpper,
				DiffsSum:        pp.DiffsSum,
				Checksum:        pp.Checksum,
				DistinctKeyVals: pp.DistinctKeyVals,
				Inline:          pp.Inline,
				unknown:         unknownOf(pp),
			})
		}
		s.Batches = append(s.Batches, b)
	}
	for _, pr := range msg.Readers {
		s.Readers = append(s.Readers, Reader{
			ID:              pr.Id,
			Purpose:         pr.Purpose,
			SeqNoHold:       locationSeqNo(pr.SeqnoHold),
			Since:           decodeFrontier(pr.Since),
			LastHeartbeatMs: pr.LastHeartbeatUnixMs,
			LeaseDurationMs: pr.LeaseDurationMs,
			unknown:         unknownOf(pr),
		})
	}
	for _, pw := range msg.Writers {
		s.Writers = append(s.Writers, Writer{
			ID:              pw.Id,
			LastHeartbeatMs: pw.LastHeartbeatUnixMs,
			LeaseDurationMs: pw.LeaseDurationMs,
			MostRecentToken: pw.MostRecentToken,
			MostRecentUpper: decodeFrontier(pw.MostRecentUpper),
			unknown:         unknownOf(pw),
		})
	}
	if err := s.validate(); err != nil {
		return State{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return s, nil
}

// checkFrontiers refuses a frontier of more than one time: times are
// totally ordered, so Encode never writes one, and decoding it would keep
// its least time and hide the damage.
func checkFrontiers(msg *statepb.ShardState) error {
	const many = "has more than one time"
	if len(msg.Since) > 1 || len(msg.Upper) > 1 {
		return fmt.Errorf("since %v or upper %v %s", msg.Since, msg.Upper, many)
	}
	for i, b := range msg.Batches {
		if len(b.Lower) > 1 || len(b.Upper) > 1 || len(b.Since) > 1 {
			return fmt.Errorf("batch %d: lower %v, upper %v or since %v %s", i, b.Lower, b.Upper, b.Since, many)
		}
	}
	for _, r := range msg.Readers {
		if len(r.Since) > 1 {
			return fmt.Errorf("reader %q: since %v %s", r.Id, r.Since, many)
		}
	}
	for _, w := range msg.Writers {
		if len(w.MostRecentUpper) > 1 {
			return fmt.Errorf("writer %q: upper %v %s", w.Id, w.MostRecentUpper, many)
		}
	}
	return nil
}

func encodeFrontier(f Frontier) []uint64 {
	out := make([]uint64, 0, f.Len())
	for _, t := range f.Elements() {
		out = append(out, uint64(t))
	}
	return out
}

func decodeFrontier(ts []uint64) Frontier {
	var f Frontier
	for _, t := range ts {
		f.Insert(frontier.Time(t))
	}
	return f
}

func unknownOf(m proto.Message) []byte {
	u := m.ProtoReflect().GetUnknown()
	if len(u) == 0 {
		return nil
	}
	return append([]byte(nil), u...)
}

func setUnknown(m proto.Message, u []byte) {
	if len(u) > 0 {
		m.ProtoReflect().SetUnknown(u)
	}
}
