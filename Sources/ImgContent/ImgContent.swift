// The content and image stores arrive with the images issue.
