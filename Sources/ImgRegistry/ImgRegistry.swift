// The distribution client arrives with the images issue.
