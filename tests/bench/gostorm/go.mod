module socksify.test/gostorm

go 1.19
