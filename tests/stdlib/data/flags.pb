
í
flags.protoflags.v1"

GetRequest
name (	"%
Flag
name (	
enabled ("
ListRequest"-
ListResponse
flags (2.flags.v1.Flag2Ê
Flags+
Get.flags.v1.GetRequest.flags.v1.Flag.
Delete.flags.v1.GetRequest.flags.v1.Flag5
List.flags.v1.ListRequest.flags.v1.ListResponse-
Watch.flags.v1.GetRequest.flags.v1.Flagbproto3