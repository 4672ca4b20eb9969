" Vim filetype detection for tcproutec route files (.tr).
" Install: copy contrib/vim/ into ~/.vim/ (or a package directory).
"
" Vim's own filetype.vim gives *.tr to nroff, so a file is taken as a route
" file when one of its first 50 lines starts with a statement of the
" language (or it is new and empty), and left to nroff when it starts with
" a roff request such as '.TH'.
function! s:DetectTcproutec() abort
  for l:line in getline(1, 50)
    if l:line =~# '^\s*\%(route\|define\|defaults\|include\|policy\)\>'
      set filetype=tr
      return
    endif
    if l:line =~# '^[.'']\a'
      return
    endif
  endfor
  if line('$') == 1 && getline(1) ==# ''
    set filetype=tr
  endif
endfunction

autocmd BufRead,BufNewFile *.tr call s:DetectTcproutec()
