module socksify.test/gostatic

go 1.19
