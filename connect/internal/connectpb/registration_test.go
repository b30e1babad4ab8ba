package connectpb

import "testing"

// A program may link this package beside Inngest's own generated
// messages (package connect.v1, file connect/v1/connect.proto), as one
// that imports the official Go SDK does; the protobuf runtime panics at
// start when two files register one name or one path.
func TestRegistersNoNameOrPathOfInngestsOwnMessages(t *testing.T) {
	fd := File_connect_internal_connectpb_connect_proto
	if got := string(fd.Package()); got == "connect.v1" {
		t.Errorf("proto package %q is Inngest's own", got)
	}
	switch p := fd.Path(); p {
	case "connect/v1/connect.proto", "connect.proto":
		t.Errorf("file path %q is not this repository's", p)
	}
}
