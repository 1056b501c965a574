// SDL2 and SDL2_ttf. SDL_MAIN_HANDLED: we own main() and call SDL_SetMainReady() before SDL_Init.
#ifndef FERLIVE_CSDL2_SHIM_H
#define FERLIVE_CSDL2_SHIM_H
#define SDL_MAIN_HANDLED
#include <SDL.h>
#include <SDL_ttf.h>

// Function-like macros in SDL's headers, exported as constants.
static const unsigned int CSDL2_WINDOWPOS_CENTERED = SDL_WINDOWPOS_CENTERED;
static const unsigned int CSDL2_PIXELFORMAT_RGB24 = SDL_PIXELFORMAT_RGB24;
static const unsigned int CSDL2_PIXELFORMAT_ARGB8888 = SDL_PIXELFORMAT_ARGB8888;
static const unsigned int CSDL2_PIXELFORMAT_IYUV = SDL_PIXELFORMAT_IYUV;
#endif
