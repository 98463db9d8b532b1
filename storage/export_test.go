package storage

// Tests of package storage that package storage_test runs against other servers (TestCluster).
var (
	RunForgetSchedules   = testForgetSchedules
	RunScheduleLifecycle = testScheduleLifecycle
)
