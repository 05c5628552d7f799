package objstore

// SetDeleteBatch sets the DeleteObjects batch size for a test and returns
// the function that restores it.
func SetDeleteBatch(n int) func() {
	old := deleteBatch
	deleteBatch = n
	return func() { deleteBatch = old }
}
