module kchan/bench/peers/gobench

go 1.19
